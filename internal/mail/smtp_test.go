package mail_test

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"html"
	"log/slog"
	"net"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/wardenhq/warden/internal/logtest"

	"github.com/wardenhq/warden/internal/mail"
)

const (
	smtpUser     = "warden-relay"
	smtpPassword = "Zq7-s3cret-Pa55word"
	testFrom     = "Warden <warden@example.com>"
	testToken    = "tok_9f8e7d6c5b4a+/="
	testPublic   = "https://warden.example.com"
)

// smtpURL builds a WARDEN_SMTP_URL for a test server at addr, naming host
// (the dial goes to addr whatever the host).
func smtpURL(t *testing.T, scheme, host, addr string, withCreds bool) string {
	t.Helper()
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	u := url.URL{Scheme: scheme, Host: net.JoinHostPort(host, port)}
	if withCreds {
		u.User = url.UserPassword(smtpUser, smtpPassword)
	}
	return u.String()
}

func newSMTP(t *testing.T, rawURL, addr string, clientTLS *tls.Config, logs *logtest.Buffer) *mail.SMTP {
	t.Helper()
	logger := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	s, err := mail.NewSMTPForTest(rawURL, testFrom, logger, mail.TestOptions{
		TLSConfig: clientTLS,
		Timeout:   5 * time.Second,
		DialAddr:  addr,
	})
	if err != nil {
		t.Fatalf("NewSMTP: %v", err)
	}
	return s
}

func verificationFor(t *testing.T, to string) mail.Message {
	t.Helper()
	return tokenMessage(t, to, "Confirm your email address", "/verify-email")
}

func TestSMTPDeliversMessage(t *testing.T) {
	cert := newTestCert(t)
	wantLink := testPublic + "/verify-email?token=" + url.QueryEscape(testToken)
	for _, tc := range []struct {
		name     string
		server   serverConfig
		scheme   string
		host     string
		creds    bool
		wantTLS  bool
		wantUser string
	}{
		{"smtp upgrades with STARTTLS when the server offers it", serverConfig{startTLS: true}, "smtp", testHost, false, true, ""},
		{"smtp delivers in clear text when the server offers no STARTTLS", serverConfig{}, "smtp", testHost, false, false, ""},
		{"smtp authenticates with PLAIN after STARTTLS", serverConfig{startTLS: true, user: smtpUser, pass: smtpPassword}, "smtp", testHost, true, true, smtpUser},
		{"smtp authenticates with PLAIN to a loopback server without TLS", serverConfig{allowInsecureAuth: true, user: smtpUser, pass: smtpPassword}, "smtp", "127.0.0.1", true, false, smtpUser},
		{"smtps speaks TLS from the first byte", serverConfig{implicitTLS: true}, "smtps", testHost, false, true, ""},
		{"smtps authenticates with PLAIN", serverConfig{implicitTLS: true, user: smtpUser, pass: smtpPassword}, "smtps", testHost, true, true, smtpUser},
	} {
		t.Run(tc.name, func(t *testing.T) {
			be, addr := startServer(t, cert, tc.server)
			logs := &logtest.Buffer{}
			s := newSMTP(t, smtpURL(t, tc.scheme, tc.host, addr, tc.creds), addr, cert.client, logs)

			if err := s.Send(context.Background(), verificationFor(t, "alice@example.com")); err != nil {
				t.Fatalf("Send: %v", err)
			}

			got := be.received()
			if len(got) != 1 {
				t.Fatalf("server received %d messages, want 1", len(got))
			}
			d := got[0]
			if d.From != "warden@example.com" || len(d.To) != 1 || d.To[0] != "alice@example.com" {
				t.Errorf("envelope from %q to %q, want warden@example.com to [alice@example.com]", d.From, d.To)
			}
			if d.TLS != tc.wantTLS {
				t.Errorf("TLS = %v, want %v", d.TLS, tc.wantTLS)
			}
			if d.User != tc.wantUser {
				t.Errorf("authenticated user = %q, want %q", d.User, tc.wantUser)
			}
			p := parseMail(t, d.Data)
			for header, want := range map[string]string{
				"From":           `"Warden" <warden@example.com>`,
				"To":             "<alice@example.com>",
				"Subject":        "Confirm your email address",
				"Auto-Submitted": "auto-generated",
			} {
				if g := p.Header.Get(header); g != want {
					t.Errorf("%s = %q, want %q", header, g, want)
				}
			}
			for _, header := range []string{"User-Agent", "X-Mailer", "Bcc"} {
				if g := p.Header.Get(header); g != "" {
					t.Errorf("%s = %q, want none", header, g)
				}
			}
			if id := p.Header.Get("Message-ID"); !strings.HasSuffix(id, "@example.com>") {
				t.Errorf("Message-ID = %q, want one in the sender's domain", id)
			}
			if !strings.Contains(p.Text, wantLink) {
				t.Errorf("text body lacks %s:\n%s", wantLink, p.Text)
			}
			if !strings.Contains(html.UnescapeString(p.HTML), `href="`+wantLink+`"`) {
				t.Errorf("HTML body lacks the link %s:\n%s", wantLink, p.HTML)
			}
			if l := logs.String(); strings.Contains(l, smtpPassword) || strings.Contains(l, url.QueryEscape(testToken)) || strings.Contains(l, "alice@") {
				t.Errorf("log holds the password, the token or the recipient:\n%s", l)
			}
		})
	}
}

func TestSMTPKeepsNonASCIISubject(t *testing.T) {
	cert := newTestCert(t)
	be, addr := startServer(t, cert, serverConfig{startTLS: true})
	s := newSMTP(t, smtpURL(t, "smtp", testHost, addr, false), addr, cert.client, &logtest.Buffer{})
	msg := validMessage()
	msg.Subject = "Bestätigen Sie Ihre Adresse ✓"
	if err := s.Send(context.Background(), msg); err != nil {
		t.Fatalf("Send: %v", err)
	}
	got := be.received()
	if len(got) != 1 {
		t.Fatalf("server received %d messages, want 1", len(got))
	}
	if subj := parseMail(t, got[0].Data).decodedSubject(t); subj != msg.Subject {
		t.Errorf("Subject = %q, want %q", subj, msg.Subject)
	}
}

func TestSMTPFailsClosed(t *testing.T) {
	cert := newTestCert(t)
	for _, tc := range []struct {
		name      string
		server    serverConfig
		scheme    string
		creds     bool
		clientTLS *tls.Config
		wantText  string // a part of the error text that explains it
	}{
		{"untrusted certificate offered with STARTTLS", serverConfig{startTLS: true}, "smtp", false, nil, "certificate"},
		{"untrusted certificate on smtps", serverConfig{implicitTLS: true}, "smtps", false, nil, "certificate"},
		{"password withheld from a remote server without TLS", serverConfig{allowInsecureAuth: true, user: smtpUser, pass: smtpPassword}, "smtp", true, cert.client, "without TLS"},
		{"credentials configured but the server offers no AUTH", serverConfig{startTLS: true}, "smtp", true, cert.client, "AUTH"},
		{"wrong password", serverConfig{startTLS: true, user: smtpUser, pass: "another-password"}, "smtp", true, cert.client, "AUTH"},
		{"server requires AUTH but none configured", serverConfig{startTLS: true, user: smtpUser, pass: smtpPassword}, "smtp", false, cert.client, "authenticate"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			be, addr := startServer(t, cert, tc.server)
			logs := &logtest.Buffer{}
			s := newSMTP(t, smtpURL(t, tc.scheme, testHost, addr, tc.creds), addr, tc.clientTLS, logs)

			err := s.Send(context.Background(), verificationFor(t, "alice@example.com"))
			if err == nil {
				t.Fatal("Send succeeded, want an error")
			}
			t.Logf("error: %v", err)
			if errors.Is(err, mail.ErrInvalidMessage) {
				t.Errorf("error %v wraps ErrInvalidMessage; the message was fine", err)
			}
			if !strings.Contains(err.Error(), tc.wantText) {
				t.Errorf("error %q does not mention %q", err, tc.wantText)
			}
			if strings.Contains(err.Error(), smtpPassword) || strings.Contains(logs.String(), smtpPassword) {
				t.Errorf("password leaked: error %q, logs %q", err, logs.String())
			}
			if n := len(be.received()); n != 0 {
				t.Errorf("server received %d messages, want 0", n)
			}
			if tc.name == "password withheld from a remote server without TLS" && be.authentications() != 0 {
				t.Errorf("the password reached the server over clear text")
			}
		})
	}
}

func TestSMTPServerDownFailsFastWithoutLeakingPassword(t *testing.T) {
	for _, scheme := range []string{"smtp", "smtps"} {
		t.Run(scheme, func(t *testing.T) {
			addr := unusedAddr(t)
			logs := &logtest.Buffer{}
			s := newSMTP(t, smtpURL(t, scheme, "127.0.0.1", addr, true), addr, nil, logs)

			start := time.Now()
			err := s.Send(context.Background(), verificationFor(t, "alice@example.com"))
			if err == nil {
				t.Fatal("Send succeeded with no server, want an error")
			}
			t.Logf("error: %v", err)
			if d := time.Since(start); d > 10*time.Second { // a hang, not a slow machine
				t.Errorf("Send took %v with the server down", d)
			}
			for _, secret := range []string{smtpPassword, url.QueryEscape(smtpPassword), testToken, "alice@example.com"} {
				if strings.Contains(err.Error(), secret) || strings.Contains(logs.String(), secret) {
					t.Errorf("%q leaked: error %q, logs %q", secret, err, logs.String())
				}
			}
		})
	}
}

func TestSMTPGivesUpWhenContextEnds(t *testing.T) {
	addr := silentServer(t)
	s := newSMTP(t, smtpURL(t, "smtp", "127.0.0.1", addr, false), addr, nil, &logtest.Buffer{})
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()

	start := time.Now()
	err := s.Send(ctx, verificationFor(t, "alice@example.com"))
	if err == nil {
		t.Fatal("Send succeeded against a silent server")
	}
	t.Logf("error after %v: %v", time.Since(start), err)
	if d := time.Since(start); d > 10*time.Second { // a hang, not a slow machine
		t.Errorf("Send took %v, want it to stop when the context ends (200ms)", d)
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("error %v does not wrap context.DeadlineExceeded", err)
	}
}

func TestSMTPErrorOmitsRecipientAddress(t *testing.T) {
	cert := newTestCert(t)
	be, addr := startServer(t, cert, serverConfig{startTLS: true, rejectRcpt: true})
	s := newSMTP(t, smtpURL(t, "smtp", testHost, addr, false), addr, cert.client, &logtest.Buffer{})

	err := s.Send(context.Background(), verificationFor(t, "victim.name@example.org"))
	if err == nil {
		t.Fatal("Send succeeded although the server refused the recipient")
	}
	t.Logf("error: %v", err)
	if strings.Contains(strings.ToLower(err.Error()), "victim.name") {
		t.Errorf("error %q contains the recipient's address", err)
	}
	if !strings.Contains(err.Error(), "example.org") || !strings.Contains(err.Error(), "550") {
		t.Errorf("error %q lost the domain or the server's reply", err)
	}
	if n := len(be.received()); n != 0 {
		t.Errorf("server received %d messages, want 0", n)
	}
}

func TestSMTPRefusesUnsafeMessagesWithoutConnecting(t *testing.T) {
	cert := newTestCert(t)
	be, addr := startServer(t, cert, serverConfig{startTLS: true})
	s := newSMTP(t, smtpURL(t, "smtp", testHost, addr, false), addr, cert.client, &logtest.Buffer{})
	for _, tc := range invalidMessages() {
		t.Run(tc.name, func(t *testing.T) {
			err := s.Send(context.Background(), tc.msg)
			if !errors.Is(err, mail.ErrInvalidMessage) {
				t.Fatalf("Send = %v, want ErrInvalidMessage", err)
			}
		})
	}
	if n := be.connections(); n != 0 {
		t.Errorf("server saw %d connections, want 0", n)
	}
}

func TestSMTPSendsConcurrently(t *testing.T) {
	cert := newTestCert(t)
	be, addr := startServer(t, cert, serverConfig{startTLS: true, user: smtpUser, pass: smtpPassword})
	s := newSMTP(t, smtpURL(t, "smtp", testHost, addr, true), addr, cert.client, &logtest.Buffer{})
	const n = 8
	errs := make(chan error, n)
	for i := range n {
		msg := verificationFor(t, fmt.Sprintf("user%d@example.com", i))
		go func() { errs <- s.Send(context.Background(), msg) }()
	}
	for range n {
		if err := <-errs; err != nil {
			t.Errorf("Send: %v", err)
		}
	}
	if got := len(be.received()); got != n {
		t.Errorf("server received %d messages, want %d", got, n)
	}
}

func TestNewSMTPAcceptsURL(t *testing.T) {
	for _, tc := range []struct {
		name, url, want string
	}{
		{"smtp defaults to the submission port", "smtp://mail.example.com", "smtp://mail.example.com:587"},
		{"smtps defaults to port 465", "smtps://mail.example.com", "smtps://mail.example.com:465"},
		{"explicit port and credentials", "smtp://user:pw@mail.example.com:2525", "smtp://mail.example.com:2525"},
		{"percent-encoded password with reserved characters", "smtps://user%40example.com:p%2Fw%3Fx%23y%40z@mail.example.com", "smtps://mail.example.com:465"},
		{"trailing slash", "smtp://mail.example.com:25/", "smtp://mail.example.com:25"},
		{"IPv6 literal", "smtp://[::1]:25", "smtp://[::1]:25"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := mail.NewSMTP(tc.url, "warden@example.com", nil)
			if err != nil {
				t.Fatalf("NewSMTP: %v", err)
			}
			if got := s.String(); got != tc.want {
				t.Errorf("String() = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestNewSMTPRefusesBadConfiguration(t *testing.T) {
	const secret = "Hunter2Secret"
	for _, tc := range []struct {
		name, url, from string
	}{
		{"unknown scheme", "http://user:" + secret + "@mail.example.com", "warden@example.com"},
		{"no scheme", "mail.example.com:587", "warden@example.com"},
		{"missing host", "smtp://user:" + secret + "@:587", "warden@example.com"},
		{"port zero", "smtp://mail.example.com:0", "warden@example.com"},
		{"port out of range", "smtp://mail.example.com:70000", "warden@example.com"},
		{"unescaped slash in the password", "smtp://user:" + secret + "/x@mail.example.com", "warden@example.com"},
		{"unescaped slash in a numeric password", "smtp://user:4711/" + secret + "@mail.example.com", "warden@example.com"},
		{"unescaped hash in the password", "smtp://user:ab#" + secret + "@mail.example.com", "warden@example.com"},
		{"query", "smtp://user:" + secret + "@mail.example.com?tls=off", "warden@example.com"},
		{"user without password", "smtp://user@mail.example.com", "warden@example.com"},
		{"password with encoded CR LF", "smtp://user:" + secret + "%0D%0A@mail.example.com", "warden@example.com"},
		{"line break in the URL", "smtp://user:" + secret + "@mail.example.com\r\n", "warden@example.com"},
		{"empty sender", "smtp://mail.example.com", ""},
		{"sender is not an address", "smtp://mail.example.com", "warden"},
		{"two senders", "smtp://mail.example.com", "warden@example.com, other@example.com"},
		{"header injected through the sender", "smtp://mail.example.com", "warden@example.com\r\nBcc: attacker@example.com"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := mail.NewSMTP(tc.url, tc.from, nil)
			if err == nil {
				t.Fatalf("NewSMTP succeeded (%v), want an error", s)
			}
			if strings.Contains(err.Error(), secret) || strings.Contains(err.Error(), "4711") {
				t.Errorf("error %q contains the password", err)
			}
		})
	}
}

func TestSMTPNeverPrintsPassword(t *testing.T) {
	s, err := mail.NewSMTP("smtps://user:"+smtpPassword+"@mail.example.com", testFrom, nil)
	if err != nil {
		t.Fatal(err)
	}
	var logs logtest.Buffer
	slog.New(slog.NewJSONHandler(&logs, nil)).Info("configured", "mailer", s)
	for _, printed := range []string{
		fmt.Sprintf("%v", s), fmt.Sprintf("%+v", s), fmt.Sprintf("%#v", s), fmt.Sprint(s), logs.String(),
	} {
		if strings.Contains(printed, smtpPassword) {
			t.Errorf("printed form %q contains the password", printed)
		}
	}
}
