package mail

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"time"
)

// Outbox is the development mailer: instead of sending, it writes each
// message as an RFC 5322 .eml file (the bytes SMTP would send, built by the
// same code) into a private directory and logs the recipient, subject and
// file at info level. It never logs the body, which carries one-time
// links. It is safe for concurrent use.
type Outbox struct {
	sender
	dir    string
	logger *slog.Logger
}

// NewOutbox returns an Outbox writing into dir, sending as from. dir is
// created with mode 0700 if it does not exist; an existing dir must not be
// readable or writable by group or others (the files hold live tokens), so
// a shared directory such as /tmp is refused rather than re-permissioned.
// logger may be nil.
func NewOutbox(dir string, from string, logger *slog.Logger) (*Outbox, error) {
	if dir == "" {
		return nil, errors.New("mail: the outbox directory is empty")
	}
	snd, err := parseSender(from)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("mail: creating the outbox directory: %w", err)
	}
	info, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("mail: checking the outbox directory: %w", err)
	}
	if !info.IsDir() {
		return nil, fmt.Errorf("mail: the outbox %s is not a directory", dir)
	}
	if runtime.GOOS != "windows" && info.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("mail: the outbox directory %s is accessible to other users (mode %04o) and its messages hold live tokens; run chmod 700 %s or choose another directory",
			dir, info.Mode().Perm(), dir)
	}
	return &Outbox{sender: snd, dir: dir, logger: orDiscard(logger)}, nil
}

// Dir returns the directory the outbox writes into.
func (o *Outbox) Dir() string { return o.dir }

// Send validates m and writes it to a new file named
// <UTC time>-<random>.eml with mode 0600. The file appears complete or not
// at all: it is written under a temporary name, synced and renamed.
func (o *Outbox) Send(ctx context.Context, m Message) error {
	msg, rcpt, err := o.compose(m)
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	// os.CreateTemp opens with O_EXCL and mode 0600; the leading dot keeps
	// half-written files out of a glob for *.eml.
	tmp, err := os.CreateTemp(o.dir, ".tmp-*.eml")
	if err != nil {
		return fmt.Errorf("mail: writing to the outbox: %w", err)
	}
	tmpName := tmp.Name()
	defer func() { _ = os.Remove(tmpName) }() // no-op once renamed
	if _, err := msg.WriteTo(tmp); err != nil {
		_ = tmp.Close()
		return fmt.Errorf("mail: writing to the outbox: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		_ = tmp.Close()
		return fmt.Errorf("mail: writing to the outbox: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("mail: writing to the outbox: %w", err)
	}
	name := time.Now().UTC().Format("20060102T150405.000000000Z") + "-" + randomHex(8) + ".eml"
	path := filepath.Join(o.dir, name)
	if err := os.Rename(tmpName, path); err != nil {
		return fmt.Errorf("mail: writing to the outbox: %w", err)
	}
	// Development only: the full recipient tells the developer which file
	// to open. The body, with its token, stays in the 0600 file.
	o.logger.InfoContext(ctx, "mail written to outbox",
		"to", rcpt.Address, "subject", m.Subject, "file", path)
	return nil
}
