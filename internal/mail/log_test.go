package mail_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/wardenhq/warden/internal/logtest"

	"github.com/wardenhq/warden/internal/mail"
)

// mailerFunc adapts a function to mail.Mailer.
type mailerFunc func(context.Context, mail.Message) error

func (f mailerFunc) Send(ctx context.Context, m mail.Message) error { return f(ctx, m) }

func TestSendLogged(t *testing.T) {
	errRelay := errors.New("relay down")
	for _, tc := range []struct {
		name     string
		mailer   mail.Mailer
		msg      mail.Message
		wantErr  error
		wantLog  []string
		mustOmit []string
	}{
		{
			name:     "success logs nothing",
			mailer:   mailerFunc(func(context.Context, mail.Message) error { return nil }),
			msg:      verificationFor(t, "Bob.Smith@Example.org"),
			mustOmit: []string{"mail not sent"},
		},
		{
			name: "failure logs domain and reason without address or body",
			mailer: mailerFunc(func(_ context.Context, m mail.Message) error {
				return fmt.Errorf("550 no such user %s: %w", strings.ToUpper(m.To), errRelay)
			}),
			msg:      verificationFor(t, "Bob.Smith@Example.org"),
			wantErr:  errRelay,
			wantLog:  []string{"level=ERROR", "mail not sent", "recipient_domain=example.org", "Confirm your email address", "relay down", "550"},
			mustOmit: []string{"bob.smith", "BOB.SMITH", "Bob.Smith", "token", "verify-email"},
		},
		{
			name: "invalid message logs no part of the recipient",
			mailer: mailerFunc(func(_ context.Context, m mail.Message) error {
				return m.Validate()
			}),
			msg:      mail.Message{To: "victim@example.com\r\nBcc: attacker@example.com", Subject: "Hi", Text: "secret link"},
			wantErr:  mail.ErrInvalidMessage,
			wantLog:  []string{"level=ERROR", "invalid message"},
			mustOmit: []string{"victim", "attacker", "example.com", "secret link"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			logs := &logtest.Buffer{}
			err := mail.SendLogged(context.Background(), tc.mailer, tc.msg, slog.New(slog.NewTextHandler(logs, nil)))
			if !errors.Is(err, tc.wantErr) || (tc.wantErr == nil) != (err == nil) {
				t.Fatalf("SendLogged = %v, want %v", err, tc.wantErr)
			}
			l := logs.String()
			for _, want := range tc.wantLog {
				if !strings.Contains(l, want) {
					t.Errorf("log lacks %q:\n%s", want, l)
				}
			}
			for _, omit := range tc.mustOmit {
				if strings.Contains(l, omit) {
					t.Errorf("log contains %q:\n%s", omit, l)
				}
			}
		})
	}
}

func TestSendLoggedAcceptsNilLogger(t *testing.T) {
	failing := mailerFunc(func(context.Context, mail.Message) error { return errors.New("down") })
	if err := mail.SendLogged(context.Background(), failing, validMessage(), nil); err == nil {
		t.Fatal("SendLogged lost the error")
	}
}
