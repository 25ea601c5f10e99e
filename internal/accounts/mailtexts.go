package accounts

import (
	"errors"
	"fmt"
	htmltemplate "html/template"
	"net/url"
	"strings"
	texttemplate "text/template"
	"unicode/utf8"

	"github.com/wardenhq/warden/internal/mail"
)

// The accounts feature's mail: the texts it sends and the links in them.
// Package mail only carries a Message; what it says, and which routes its
// links open, is this feature's business. Links are built from the
// configured public URL (WARDEN_PUBLIC_URL), never from a request's Host
// header, which the client controls and could point at its own server to
// harvest tokens. Tokens are query-escaped; the username, which the
// registrant chooses, is escaped in HTML and may not contain line breaks.
// A builder refuses what it cannot render safely with an error wrapping
// mail.ErrInvalidMessage, or errMailPublicURL for a misconfigured public
// URL.

// maxMailUsernameLength is the longest username the message builders
// accept, in characters. The builders guard the body on their own rather
// than rely on checkUsername, so that a later change of the username
// policy cannot open the texts to injected lines or unbounded size.
const maxMailUsernameLength = 256

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

// mailData is what the account templates may use.
type mailData struct {
	Username string
	Link     string
}

// verificationMessage builds the message that confirms an address after
// registration. Its link is <publicURL>/verify-email?token=<token>, with
// the token query-escaped. publicURL is the configured public base URL
// (WARDEN_PUBLIC_URL), never a request's Host header, which the client
// controls.
func verificationMessage(to, username, publicURL, token string) (mail.Message, error) {
	if err := checkMailUsername(username); err != nil {
		return mail.Message{}, err
	}
	link, err := mailTokenLink(publicURL, "/verify-email", token)
	if err != nil {
		return mail.Message{}, err
	}
	return renderMail(to, "Confirm your email address", username, link, verificationText, verificationHTML)
}

// resetMessage builds the password reset message. Its link is
// <publicURL>/reset-password?token=<token>, with the token query-escaped.
func resetMessage(to, username, publicURL, token string) (mail.Message, error) {
	if err := checkMailUsername(username); err != nil {
		return mail.Message{}, err
	}
	link, err := mailTokenLink(publicURL, "/reset-password", token)
	if err != nil {
		return mail.Message{}, err
	}
	return renderMail(to, "Reset your password", username, link, resetText, resetHTML)
}

// accountExistsNotice builds the message sent instead of a verification
// link when someone registers with an address that already has an account:
// registration answers the same either way, and only the mailbox owner
// learns of the attempt. It offers <publicURL>/reset-password and carries
// no token, so forwarding it grants nothing.
func accountExistsNotice(to, publicURL string) (mail.Message, error) {
	base, err := mailBaseURL(publicURL)
	if err != nil {
		return mail.Message{}, err
	}
	return renderMail(to, "Someone tried to register with your email address", "", base+"/reset-password",
		accountExistsText, accountExistsHTML)
}

// passwordChangedNotice builds the message that tells an account's owner
// their password was changed, so that a change they did not make does not
// go unnoticed.
func passwordChangedNotice(to, username string) (mail.Message, error) {
	if err := checkMailUsername(username); err != nil {
		return mail.Message{}, err
	}
	return renderMail(to, "Your password was changed", username, "", passwordChangedText, passwordChangedHTML)
}

// renderMail executes both templates and validates the result, so that a bad
// recipient is reported when the message is built, not only when sent.
func renderMail(to, subject, username, link string, text *texttemplate.Template, html *htmltemplate.Template) (mail.Message, error) {
	data := mailData{Username: username, Link: link}
	var t, h strings.Builder
	if err := text.Execute(&t, data); err != nil {
		return mail.Message{}, err
	}
	if err := html.Execute(&h, data); err != nil {
		return mail.Message{}, err
	}
	m := mail.Message{To: to, Subject: subject, Text: t.String(), HTML: h.String()}
	if err := m.Validate(); err != nil {
		return mail.Message{}, err
	}
	return m, nil
}

// checkMailUsername refuses usernames that could add lines to the
// plain-text body: the username is chosen by whoever registers, who may
// not own the mailbox. Which characters a username may hold is
// checkUsername's business.
func checkMailUsername(username string) error {
	switch {
	case username == "":
		return fmt.Errorf("%w: username is empty", mail.ErrInvalidMessage)
	case !mail.IsOneLine(username):
		return fmt.Errorf("%w: username contains a control character or line break", mail.ErrInvalidMessage)
	case utf8.RuneCountInString(username) > maxMailUsernameLength:
		return fmt.Errorf("%w: username is longer than %d characters", mail.ErrInvalidMessage, maxMailUsernameLength)
	}
	return nil
}

// mailTokenLink returns <base><path>?token=<escaped token>.
func mailTokenLink(publicURL, path, token string) (string, error) {
	base, err := mailBaseURL(publicURL)
	if err != nil {
		return "", err
	}
	if token == "" {
		return "", fmt.Errorf("%w: token is empty", mail.ErrInvalidMessage)
	}
	return base + path + "?token=" + url.QueryEscape(token), nil
}

// errMailPublicURL is returned for a public URL the links cannot be built
// on: a configuration mistake, not a bad message.
var errMailPublicURL = errors.New("accounts: the public URL (WARDEN_PUBLIC_URL) must be an absolute http or https URL such as https://example.com, without user name, query or fragment")

// mailBaseURL validates publicURL and returns it without a trailing slash.
func mailBaseURL(publicURL string) (string, error) {
	if !mail.IsOneLine(publicURL) {
		return "", errMailPublicURL
	}
	u, err := url.Parse(publicURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" ||
		u.User != nil || u.Opaque != "" || u.RawQuery != "" || u.ForceQuery || u.Fragment != "" {
		return "", errMailPublicURL
	}
	return u.Scheme + "://" + u.Host + strings.TrimRight(u.EscapedPath(), "/"), nil
}
