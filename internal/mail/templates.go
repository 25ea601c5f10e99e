package mail

import (
	"errors"
	htmltemplate "html/template"
	"net/url"
	"strings"
	texttemplate "text/template"
	"unicode/utf8"
)

// MaxUsernameLength is the longest username the message builders accept,
// in characters.
const MaxUsernameLength = 256

// The account messages. Each is a text template and an html/template of
// the same content; html/template escapes the username and checks the link
// (only http and https URLs survive it). Texts stay short and plain: no
// images, no tracking, no third-party links.
var (
	verificationText = texttemplate.Must(texttemplate.New("verification").Parse(
		`Hi {{.Username}},

Please confirm your email address by opening this link:

{{.Link}}

The link works once and expires soon. If you did not create an account, ignore this message.
`))
	verificationHTML = htmltemplate.Must(htmltemplate.New("verification").Parse(
		`<!DOCTYPE html>
<html><body>
<p>Hi {{.Username}},</p>
<p>Please confirm your email address by opening this link:</p>
<p><a href="{{.Link}}">{{.Link}}</a></p>
<p>The link works once and expires soon. If you did not create an account, ignore this message.</p>
</body></html>
`))

	resetText = texttemplate.Must(texttemplate.New("reset").Parse(
		`Hi {{.Username}},

Someone asked to reset the password of your account. To choose a new password, open this link:

{{.Link}}

The link works once and expires soon. If you did not ask for this, ignore this message: your password stays as it is.
`))
	resetHTML = htmltemplate.Must(htmltemplate.New("reset").Parse(
		`<!DOCTYPE html>
<html><body>
<p>Hi {{.Username}},</p>
<p>Someone asked to reset the password of your account. To choose a new password, open this link:</p>
<p><a href="{{.Link}}">{{.Link}}</a></p>
<p>The link works once and expires soon. If you did not ask for this, ignore this message: your password stays as it is.</p>
</body></html>
`))

	accountExistsText = texttemplate.Must(texttemplate.New("account-exists").Parse(
		`Hello,

Someone tried to create a new account with this email address, but it already belongs to your account. Nothing was changed.

If it was you, sign in with your existing account. If you forgot your password, you can reset it here:

{{.Link}}

If it was not you, ignore this message.
`))
	accountExistsHTML = htmltemplate.Must(htmltemplate.New("account-exists").Parse(
		`<!DOCTYPE html>
<html><body>
<p>Hello,</p>
<p>Someone tried to create a new account with this email address, but it already belongs to your account. Nothing was changed.</p>
<p>If it was you, sign in with your existing account. If you forgot your password, you can reset it here:</p>
<p><a href="{{.Link}}">{{.Link}}</a></p>
<p>If it was not you, ignore this message.</p>
</body></html>
`))

	passwordChangedText = texttemplate.Must(texttemplate.New("password-changed").Parse(
		`Hi {{.Username}},

The password of your account was just changed.

If you changed it, there is nothing to do. If you did not, reset your password now: someone else may know it.
`))
	passwordChangedHTML = htmltemplate.Must(htmltemplate.New("password-changed").Parse(
		`<!DOCTYPE html>
<html><body>
<p>Hi {{.Username}},</p>
<p>The password of your account was just changed.</p>
<p>If you changed it, there is nothing to do. If you did not, reset your password now: someone else may know it.</p>
</body></html>
`))
)

// templateData is what the account templates may use.
type templateData struct {
	Username string
	Link     string
}

// VerificationMessage builds the message that confirms an address after
// registration. Its link is <publicURL>/verify-email?token=<token>, with
// the token query-escaped. publicURL is the configured public base URL
// (WARDEN_PUBLIC_URL), never a request's Host header, which the client
// controls.
func VerificationMessage(to, username, publicURL, token string) (Message, error) {
	if err := checkUsername(username); err != nil {
		return Message{}, err
	}
	link, err := tokenLink(publicURL, "/verify-email", token)
	if err != nil {
		return Message{}, err
	}
	return render(to, "Confirm your email address", username, link, verificationText, verificationHTML)
}

// ResetMessage builds the password reset message. Its link is
// <publicURL>/reset-password?token=<token>, with the token query-escaped.
func ResetMessage(to, username, publicURL, token string) (Message, error) {
	if err := checkUsername(username); err != nil {
		return Message{}, err
	}
	link, err := tokenLink(publicURL, "/reset-password", token)
	if err != nil {
		return Message{}, err
	}
	return render(to, "Reset your password", username, link, resetText, resetHTML)
}

// AccountExistsNotice builds the message sent instead of a verification
// link when someone registers with an address that already has an account:
// registration answers the same either way, and only the mailbox owner
// learns of the attempt. It offers <publicURL>/reset-password and carries
// no token, so forwarding it grants nothing.
func AccountExistsNotice(to, publicURL string) (Message, error) {
	base, err := baseURL(publicURL)
	if err != nil {
		return Message{}, err
	}
	return render(to, "Someone tried to register with your email address", "", base+"/reset-password",
		accountExistsText, accountExistsHTML)
}

// PasswordChangedNotice builds the message that tells an account's owner
// their password was changed, so that a change they did not make does not
// go unnoticed.
func PasswordChangedNotice(to, username string) (Message, error) {
	if err := checkUsername(username); err != nil {
		return Message{}, err
	}
	return render(to, "Your password was changed", username, "", passwordChangedText, passwordChangedHTML)
}

// render executes both templates and validates the result, so that a bad
// recipient is reported when the message is built, not only when sent.
func render(to, subject, username, link string, text *texttemplate.Template, html *htmltemplate.Template) (Message, error) {
	data := templateData{Username: username, Link: link}
	var t, h strings.Builder
	if err := text.Execute(&t, data); err != nil {
		return Message{}, err
	}
	if err := html.Execute(&h, data); err != nil {
		return Message{}, err
	}
	m := Message{To: to, Subject: subject, Text: t.String(), HTML: h.String()}
	if err := m.Validate(); err != nil {
		return Message{}, err
	}
	return m, nil
}

// checkUsername refuses usernames that could add lines to the plain-text
// body: the username is chosen by whoever registers, who may not own the
// mailbox. Which characters a username may hold is the accounts policy.
func checkUsername(username string) error {
	switch {
	case username == "":
		return invalid("username is empty")
	case !isOneLine(username):
		return invalid("username contains a control character or line break")
	case utf8.RuneCountInString(username) > MaxUsernameLength:
		return invalid("username is longer than %d characters", MaxUsernameLength)
	}
	return nil
}

// tokenLink returns <base><path>?token=<escaped token>.
func tokenLink(publicURL, path, token string) (string, error) {
	base, err := baseURL(publicURL)
	if err != nil {
		return "", err
	}
	if token == "" {
		return "", invalid("token is empty")
	}
	return base + path + "?token=" + url.QueryEscape(token), nil
}

// errPublicURL is returned for a public URL the links cannot be built on:
// a configuration mistake, not a bad message.
var errPublicURL = errors.New("mail: the public URL (WARDEN_PUBLIC_URL) must be an absolute http or https URL such as https://example.com, without user name, query or fragment")

// baseURL validates publicURL and returns it without a trailing slash.
func baseURL(publicURL string) (string, error) {
	if !isOneLine(publicURL) {
		return "", errPublicURL
	}
	u, err := url.Parse(publicURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" ||
		u.User != nil || u.Opaque != "" || u.RawQuery != "" || u.ForceQuery || u.Fragment != "" {
		return "", errPublicURL
	}
	return u.Scheme + "://" + u.Host + strings.TrimRight(u.EscapedPath(), "/"), nil
}
