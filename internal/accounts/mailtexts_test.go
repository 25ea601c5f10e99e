package accounts

import (
	"errors"
	"html"
	"net/url"
	"strings"
	"testing"

	"github.com/wardenhq/warden/internal/mail"
)

// A token with every character that must be escaped in a query, and the
// public URL the links are built on.
const (
	testToken  = "tok_9f8e7d6c5b4a+/="
	testPublic = "https://warden.example.com"
)

func TestMailTokenMessagesLinkToPublicURL(t *testing.T) {
	const token = "a+b/c=d&e f?g#h"
	builders := []struct {
		name  string
		build func(to, username, publicURL, token string) (mail.Message, error)
		path  string
	}{
		{"verification", verificationMessage, "/verify-email"},
		{"reset", resetMessage, "/reset-password"},
	}
	bases := []struct {
		name, publicURL, want string
	}{
		{"bare origin", "https://warden.example.com", "https://warden.example.com"},
		{"trailing slash", "https://warden.example.com/", "https://warden.example.com"},
		{"sub-path", "https://example.com/warden/", "https://example.com/warden"},
		{"development address", "http://127.0.0.1:8080", "http://127.0.0.1:8080"},
	}
	for _, b := range builders {
		for _, base := range bases {
			t.Run(b.name+" with "+base.name, func(t *testing.T) {
				m, err := b.build("alice@example.com", "alice", base.publicURL, token)
				if err != nil {
					t.Fatal(err)
				}
				link := base.want + b.path + "?token=" + url.QueryEscape(token)
				if !strings.Contains(m.Text, "\n"+link+"\n") {
					t.Errorf("text lacks the link %s on its own line:\n%s", link, m.Text)
				}
				if !strings.Contains(html.UnescapeString(m.HTML), `href="`+link+`"`) {
					t.Errorf("HTML lacks href %s:\n%s", link, m.HTML)
				}
				u, err := url.Parse(link)
				if err != nil {
					t.Fatal(err)
				}
				if got := u.Query().Get("token"); got != token {
					t.Errorf("link carries token %q, want %q", got, token)
				}
				if err := m.Validate(); err != nil {
					t.Errorf("built message is invalid: %v", err)
				}
			})
		}
	}
}

func TestMailEscapesUsernameInHTML(t *testing.T) {
	const username = `<script>alert("x")</script>&`
	for _, tc := range []struct {
		name  string
		build func() (mail.Message, error)
	}{
		{"verification", func() (mail.Message, error) {
			return verificationMessage("alice@example.com", username, testPublic, testToken)
		}},
		{"reset", func() (mail.Message, error) {
			return resetMessage("alice@example.com", username, testPublic, testToken)
		}},
		{"password changed", func() (mail.Message, error) {
			return passwordChangedNotice("alice@example.com", username)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := tc.build()
			if err != nil {
				t.Fatal(err)
			}
			if strings.Contains(m.HTML, "<script>") {
				t.Errorf("HTML holds the raw username:\n%s", m.HTML)
			}
			if !strings.Contains(m.HTML, "&lt;script&gt;") {
				t.Errorf("HTML lacks the escaped username:\n%s", m.HTML)
			}
			if !strings.Contains(m.Text, username) {
				t.Errorf("text lacks the username as typed:\n%s", m.Text)
			}
		})
	}
}

func TestAccountExistsNoticeOffersResetWithoutToken(t *testing.T) {
	m, err := accountExistsNotice("alice@example.com", testPublic+"/")
	if err != nil {
		t.Fatal(err)
	}
	link := testPublic + "/reset-password"
	if !strings.Contains(m.Text, "\n"+link+"\n") || !strings.Contains(html.UnescapeString(m.HTML), `href="`+link+`"`) {
		t.Errorf("notice lacks the reset link %s:\n%s\n%s", link, m.Text, m.HTML)
	}
	for _, body := range []string{m.Text, m.HTML} {
		if strings.Contains(body, "token") || strings.Contains(body, "verify-email") {
			t.Errorf("notice carries a token or verification link:\n%s", body)
		}
	}
	if m.To != "alice@example.com" || m.Subject == "" {
		t.Errorf("notice addressed %q with subject %q", m.To, m.Subject)
	}
}

func TestPasswordChangedNoticeNamesUserWithoutLinks(t *testing.T) {
	m, err := passwordChangedNotice("alice@example.com", "alice")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(m.Text, "Hi alice,") || !strings.Contains(m.HTML, "Hi alice,") {
		t.Errorf("notice does not greet the user:\n%s\n%s", m.Text, m.HTML)
	}
	for _, body := range []string{m.Text, m.HTML} {
		if strings.Contains(body, "http") || strings.Contains(body, "token") {
			t.Errorf("notice holds a link:\n%s", body)
		}
	}
}

func TestMailBuildersRefuseBadInput(t *testing.T) {
	verify := func(to, username, publicURL, token string) func() (mail.Message, error) {
		return func() (mail.Message, error) { return verificationMessage(to, username, publicURL, token) }
	}
	for _, tc := range []struct {
		name        string
		build       func() (mail.Message, error)
		wantInvalid bool // ErrInvalidMessage rather than a configuration error
	}{
		{"public URL without scheme", verify("alice@example.com", "alice", "warden.example.com", testToken), false},
		{"public URL with javascript scheme", verify("alice@example.com", "alice", "javascript:alert(1)", testToken), false},
		{"public URL with ftp scheme", verify("alice@example.com", "alice", "ftp://warden.example.com", testToken), false},
		{"public URL with credentials", verify("alice@example.com", "alice", "https://u:p@warden.example.com", testToken), false},
		{"public URL with query", verify("alice@example.com", "alice", "https://warden.example.com/?next=evil", testToken), false},
		{"public URL with fragment", verify("alice@example.com", "alice", "https://warden.example.com/#x", testToken), false},
		{"public URL with line break", verify("alice@example.com", "alice", "https://warden.example.com\r\n", testToken), false},
		{"empty public URL", verify("alice@example.com", "alice", "", testToken), false},
		{"empty token", verify("alice@example.com", "alice", testPublic, ""), true},
		{"username adding lines to the text", verify("alice@example.com", "alice\n\nOpen https://evil.example", testPublic, testToken), true},
		{"empty username", verify("alice@example.com", "", testPublic, testToken), true},
		{"overlong username", verify("alice@example.com", strings.Repeat("a", maxMailUsernameLength+1), testPublic, testToken), true},
		{"injected recipient", verify("victim@example.com\r\nBcc: attacker@example.com", "alice", testPublic, testToken), true},
		{"reset with injected recipient", func() (mail.Message, error) {
			return resetMessage("victim@example.com\r\nBcc: attacker@example.com", "alice", testPublic, testToken)
		}, true},
		{"account notice with bad public URL", func() (mail.Message, error) {
			return accountExistsNotice("alice@example.com", "//warden.example.com")
		}, false},
		{"account notice with two recipients", func() (mail.Message, error) {
			return accountExistsNotice("alice@example.com, attacker@example.com", testPublic)
		}, true},
		{"password notice with username line break", func() (mail.Message, error) {
			return passwordChangedNotice("alice@example.com", "alice\r\n")
		}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := tc.build()
			if err == nil {
				t.Fatalf("built %+v, want an error", m)
			}
			if got := errors.Is(err, mail.ErrInvalidMessage); got != tc.wantInvalid {
				t.Errorf("errors.Is(%v, ErrInvalidMessage) = %v, want %v", err, got, tc.wantInvalid)
			}
			if got := errors.Is(err, errMailPublicURL); got == tc.wantInvalid {
				t.Errorf("errors.Is(%v, errMailPublicURL) = %v, want %v", err, got, !tc.wantInvalid)
			}
		})
	}
}
