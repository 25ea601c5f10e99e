package mail_test

import (
	"context"
	"errors"
	"fmt"
	"html"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"

	"github.com/wardenhq/warden/internal/logtest"

	"github.com/wardenhq/warden/internal/mail"
)

func newOutbox(t *testing.T, dir string, logs *logtest.Buffer) *mail.Outbox {
	t.Helper()
	o, err := mail.NewOutbox(dir, testFrom, slog.New(slog.NewTextHandler(logs, nil)))
	if err != nil {
		t.Fatalf("NewOutbox: %v", err)
	}
	return o
}

// dirEntries lists every name in dir, hidden temporary files included.
func dirEntries(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

var emlName = regexp.MustCompile(`^\d{8}T\d{6}\.\d{9}Z-[0-9a-f]{16}\.eml$`)

func TestOutboxWritesParseableEML(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data", "outbox")
	logs := &logtest.Buffer{}
	o := newOutbox(t, dir, logs)

	msg := tokenMessage(t, "alice@example.com", "Reset your password", "/reset-password")
	if err := o.Send(context.Background(), msg); err != nil {
		t.Fatalf("Send: %v", err)
	}

	names := dirEntries(t, dir)
	if len(names) != 1 || !emlName.MatchString(names[0]) {
		t.Fatalf("outbox holds %q, want one <UTC time>-<random>.eml", names)
	}
	path := filepath.Join(dir, names[0])
	if runtime.GOOS != "windows" {
		for p, want := range map[string]os.FileMode{dir: 0o700, path: 0o600} {
			info, err := os.Stat(p)
			if err != nil {
				t.Fatal(err)
			}
			if got := info.Mode().Perm(); got != want {
				t.Errorf("%s has mode %04o, want %04o", p, got, want)
			}
		}
	}

	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	p := parseMail(t, raw)
	for header, want := range map[string]string{
		"From":    `"Warden" <warden@example.com>`,
		"To":      "<alice@example.com>",
		"Subject": "Reset your password",
	} {
		if g := p.Header.Get(header); g != want {
			t.Errorf("%s = %q, want %q", header, g, want)
		}
	}
	wantLink := testPublic + "/reset-password?token=" + url.QueryEscape(testToken)
	if !strings.Contains(p.Text, wantLink) || !strings.Contains(html.UnescapeString(p.HTML), wantLink) {
		t.Errorf("bodies lack %s:\ntext: %s\nhtml: %s", wantLink, p.Text, p.HTML)
	}

	l := logs.String()
	for _, want := range []string{"level=INFO", "alice@example.com", "Reset your password", names[0]} {
		if !strings.Contains(l, want) {
			t.Errorf("log lacks %q:\n%s", want, l)
		}
	}
	for _, secret := range []string{testToken, url.QueryEscape(testToken), "reset-password?token"} {
		if strings.Contains(l, secret) {
			t.Errorf("log contains %q:\n%s", secret, l)
		}
	}
}

func TestOutboxRefusesUnsafeMessagesWithoutWriting(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "outbox")
	logs := &logtest.Buffer{}
	o := newOutbox(t, dir, logs)
	for _, tc := range invalidMessages() {
		t.Run(tc.name, func(t *testing.T) {
			if err := o.Send(context.Background(), tc.msg); !errors.Is(err, mail.ErrInvalidMessage) {
				t.Fatalf("Send = %v, want ErrInvalidMessage", err)
			}
		})
	}
	if names := dirEntries(t, dir); len(names) != 0 {
		t.Errorf("outbox holds %q after refused messages, want nothing", names)
	}
	if l := logs.String(); l != "" {
		t.Errorf("refused messages were logged:\n%s", l)
	}
}

func TestOutboxWritesEachMessageToItsOwnFile(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "outbox")
	o := newOutbox(t, dir, &logtest.Buffer{})
	const n = 20
	errs := make(chan error, n)
	for i := range n {
		msg := validMessage()
		msg.Subject = fmt.Sprintf("Message %d", i)
		go func() { errs <- o.Send(context.Background(), msg) }()
	}
	for range n {
		if err := <-errs; err != nil {
			t.Errorf("Send: %v", err)
		}
	}
	names := dirEntries(t, dir)
	if len(names) != n {
		t.Fatalf("outbox holds %d files, want %d: %q", len(names), n, names)
	}
	for _, name := range names {
		if !emlName.MatchString(name) {
			t.Errorf("unexpected file %q (a temporary file left behind?)", name)
		}
	}
}

func TestOutboxDoesNotWriteAfterContextEnds(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "outbox")
	o := newOutbox(t, dir, &logtest.Buffer{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := o.Send(ctx, validMessage()); !errors.Is(err, context.Canceled) {
		t.Fatalf("Send = %v, want context.Canceled", err)
	}
	if names := dirEntries(t, dir); len(names) != 0 {
		t.Errorf("outbox holds %q, want nothing", names)
	}
}

func TestNewOutboxRefusesUnsafeSetup(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("Unix permissions")
	}
	shared := t.TempDir()
	if err := os.Chmod(shared, 0o755); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, dir, from string
	}{
		{"directory readable by others", shared, "warden@example.com"},
		{"path is a file", file, "warden@example.com"},
		{"empty directory name", "", "warden@example.com"},
		{"sender with a line break", filepath.Join(t.TempDir(), "outbox"), "warden@example.com\r\nBcc: attacker@example.com"},
		{"sender is not an address", filepath.Join(t.TempDir(), "outbox"), "warden"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := mail.NewOutbox(tc.dir, tc.from, nil); err == nil {
				t.Fatal("NewOutbox succeeded, want an error")
			}
		})
	}
	info, err := os.Stat(shared)
	if err != nil {
		t.Fatal(err)
	}
	if info.Mode().Perm() != 0o755 {
		t.Errorf("NewOutbox changed the mode of an existing directory to %04o", info.Mode().Perm())
	}
}

func TestNewOutboxAcceptsDefaultSender(t *testing.T) {
	if _, err := mail.NewOutbox(filepath.Join(t.TempDir(), "outbox"), "warden@localhost", nil); err != nil {
		t.Fatalf("NewOutbox with the default sender: %v", err)
	}
}
