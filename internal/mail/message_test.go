package mail_test

import (
	"errors"
	"html"
	"net/url"
	"strings"
	"testing"

	"github.com/wardenhq/warden/internal/mail"
)

func validMessage() mail.Message {
	return mail.Message{
		To:      "alice@example.com",
		Subject: "Confirm your email address",
		Text:    "Open https://warden.example.com/verify-email?token=abc",
	}
}

// tokenMessage is a message like those Warden sends: a one-time token in a
// link in both bodies, which no log may show. It must pass Validate.
func tokenMessage(t *testing.T, to, subject, path string) mail.Message {
	t.Helper()
	link := testPublic + path + "?token=" + url.QueryEscape(testToken)
	m := mail.Message{
		To:      to,
		Subject: subject,
		Text:    "Hi alice,\n\nOpen this link:\n\n" + link + "\n",
		HTML:    "<!DOCTYPE html>\n<html><body>\n<p>Hi alice,</p>\n<p><a href=\"" + html.EscapeString(link) + "\">" + html.EscapeString(link) + "</a></p>\n</body></html>\n",
	}
	if err := m.Validate(); err != nil {
		t.Fatal(err)
	}
	return m
}

// invalidMessages are messages every Mailer must refuse before sending or
// writing anything, header injection attempts first.
func invalidMessages() []struct {
	name string
	msg  mail.Message
} {
	with := func(f func(*mail.Message)) mail.Message {
		m := validMessage()
		f(&m)
		return m
	}
	return []struct {
		name string
		msg  mail.Message
	}{
		{"Bcc injected through the recipient", with(func(m *mail.Message) { m.To = "victim@example.com\r\nBcc: attacker@example.com" })},
		{"Bcc injected through the recipient with LF only", with(func(m *mail.Message) { m.To = "victim@example.com\nBcc: attacker@example.com" })},
		{"Bcc injected through the subject", with(func(m *mail.Message) { m.Subject = "Hello\r\nBcc: attacker@example.com" })},
		{"body injected through the subject", with(func(m *mail.Message) { m.Subject = "Hello\r\n\r\nClick https://evil.example" })},
		{"bare CR in the subject", with(func(m *mail.Message) { m.Subject = "Hello\rBcc: attacker@example.com" })},
		{"NUL in the recipient", with(func(m *mail.Message) { m.To = "victim@example.com\x00" })},
		{"NUL in the subject", with(func(m *mail.Message) { m.Subject = "Hello\x00" })},
		{"Unicode line separator in the subject", with(func(m *mail.Message) { m.Subject = "Hello\u2028Bcc: attacker@example.com" })},
		{"NEL in the subject", with(func(m *mail.Message) { m.Subject = "Hello\u0085Bcc: attacker@example.com" })},
		{"invalid UTF-8 in the subject", with(func(m *mail.Message) { m.Subject = "Hello \xff" })},
		{"two recipients", with(func(m *mail.Message) { m.To = "victim@example.com, attacker@example.com" })},
		{"recipient with a display name", with(func(m *mail.Message) { m.To = "Click evil.example <victim@example.com>" })},
		{"recipient with a comment", with(func(m *mail.Message) { m.To = "victim@example.com (click evil.example)" })},
		{"recipient without a domain", with(func(m *mail.Message) { m.To = "victim" })},
		{"empty recipient", with(func(m *mail.Message) { m.To = "" })},
		{"overlong recipient", with(func(m *mail.Message) { m.To = strings.Repeat("a", 250) + "@example.com" })},
		{"empty subject", with(func(m *mail.Message) { m.Subject = "" })},
		{"subject over 200 characters", with(func(m *mail.Message) { m.Subject = strings.Repeat("é", 201) })},
		{"empty text body", with(func(m *mail.Message) { m.Text = " \n" })},
		{"text body not UTF-8", with(func(m *mail.Message) { m.Text = "token \xff" })},
	}
}

func TestValidateRefusesUnsafeMessages(t *testing.T) {
	for _, tc := range invalidMessages() {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.msg.Validate()
			if !errors.Is(err, mail.ErrInvalidMessage) {
				t.Fatalf("Validate() = %v, want ErrInvalidMessage", err)
			}
			for _, leak := range []string{"attacker", "victim", "evil"} {
				if strings.Contains(err.Error(), leak) {
					t.Errorf("error %q repeats the refused value", err)
				}
			}
		})
	}
}

func TestValidateAcceptsOrdinaryMessages(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(*mail.Message)
	}{
		{"plain text only", func(*mail.Message) {}},
		{"with HTML alternative", func(m *mail.Message) { m.HTML = "<p>Hi</p>" }},
		{"recipient in angle brackets", func(m *mail.Message) { m.To = "<alice@example.com>" }},
		{"recipient with plus and subdomain", func(m *mail.Message) { m.To = "alice+warden@mail.example.co.uk" }},
		{"internationalised recipient", func(m *mail.Message) { m.To = "jörg@bücher.example" }},
		{"subject of exactly 200 characters", func(m *mail.Message) { m.Subject = strings.Repeat("é", 200) }},
		{"non-ASCII subject", func(m *mail.Message) { m.Subject = "Bestätigen Sie Ihre Adresse ✓" }},
		{"multi-line body", func(m *mail.Message) { m.Text = "Hi,\r\n\r\nline two\n" }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := validMessage()
			tc.edit(&m)
			if err := m.Validate(); err != nil {
				t.Fatalf("Validate() = %v, want nil", err)
			}
		})
	}
}
