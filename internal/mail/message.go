package mail

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/mail"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	gomail "github.com/wneessen/go-mail"
)

// Message is one plain mail to one recipient. Mailers build every header
// themselves from validated fields; nothing in a Message becomes a header
// without passing Validate.
type Message struct {
	// To is the recipient: exactly one bare address ("alice@example.com"),
	// without a display name, at most MaxAddressLength bytes.
	To string
	// Subject is one line of at most MaxSubjectLength characters.
	Subject string
	// Text is the plain-text body. It is required: every message can be
	// read without HTML.
	Text string
	// HTML is an optional HTML alternative to Text. It is sent as is, so it
	// must come from a template that escapes its data (html/template).
	HTML string
}

// Mailer sends messages. Send returns an error wrapping ErrInvalidMessage,
// without sending anything, when the message fails Validate; any other
// error means delivery failed and is returned to the caller, never only
// logged. Implementations are safe for concurrent use.
type Mailer interface {
	Send(ctx context.Context, m Message) error
}

// ErrInvalidMessage is wrapped by every error that refuses a message
// because a field is missing or malformed, before anything is sent or
// written. The error text names the field and the rule, never its value.
var ErrInvalidMessage = errors.New("mail: invalid message")

const (
	// MaxSubjectLength is the largest Subject accepted, in characters.
	MaxSubjectLength = 200
	// MaxAddressLength is the largest To accepted, in bytes (RFC 5321's
	// limit on a forward path).
	MaxAddressLength = 254
)

// Validate reports whether m is safe to send: To is exactly one bare
// address, To and Subject hold valid UTF-8 without control characters
// (no CR, LF or NUL, so no header can be injected) or Unicode line
// separators, Subject is not empty and at most MaxSubjectLength
// characters, and Text is not empty. The error wraps ErrInvalidMessage.
func (m Message) Validate() error {
	_, err := m.recipient()
	return err
}

// recipient validates m and returns its parsed recipient.
func (m Message) recipient() (*mail.Address, error) {
	if m.To == "" {
		return nil, invalid("recipient is empty")
	}
	if len(m.To) > MaxAddressLength {
		return nil, invalid("recipient is longer than %d bytes", MaxAddressLength)
	}
	if !IsOneLine(m.To) {
		return nil, invalid("recipient contains a control character or line break")
	}
	addr, err := mail.ParseAddress(m.To)
	if err != nil {
		// net/mail's error quotes the input; the address is personal data
		// and possibly an injection attempt, so it stays out of the error.
		return nil, invalid("recipient is not exactly one valid email address")
	}
	if addr.Name != "" {
		return nil, invalid("recipient must be a bare address without a display name or comment")
	}
	if m.Subject == "" {
		return nil, invalid("subject is empty")
	}
	if !IsOneLine(m.Subject) {
		return nil, invalid("subject contains a control character or line break")
	}
	if n := utf8.RuneCountInString(m.Subject); n > MaxSubjectLength {
		return nil, invalid("subject is %d characters long, more than %d", n, MaxSubjectLength)
	}
	if strings.TrimSpace(m.Text) == "" {
		return nil, invalid("text body is empty")
	}
	if !utf8.ValidString(m.Text) || !utf8.ValidString(m.HTML) {
		return nil, invalid("body is not valid UTF-8")
	}
	return addr, nil
}

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrInvalidMessage}, args...)...)
}

// IsOneLine reports whether s is valid UTF-8 free of anything that could
// end a header line or confuse a mail parser: C0 and C1 controls (CR, LF,
// NUL, tab, NEL, ...), DEL, and the Unicode line and paragraph separators.
// Validate applies it to To and Subject. It is exported for the features
// that write message texts, so that a value they put on one line of a body
// (a username) obeys the same rule as a header.
func IsOneLine(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if unicode.IsControl(r) || r == '\u2028' || r == '\u2029' {
			return false
		}
	}
	return true
}

// sender is a validated From address, shared by the SMTP mailer and the
// outbox so that both produce the same message.
type sender struct {
	addr   *mail.Address
	domain string // for Message-ID
}

// parseSender validates a configured From address: one mailbox as net/mail
// parses it (a display name is allowed here, the operator chose it), with
// no control characters anywhere.
func parseSender(from string) (sender, error) {
	if from == "" {
		return sender{}, errors.New("mail: the sender address (WARDEN_MAIL_FROM) is empty")
	}
	if !IsOneLine(from) {
		return sender{}, errors.New("mail: the sender address (WARDEN_MAIL_FROM) contains a control character or line break")
	}
	addr, err := mail.ParseAddress(from)
	if err != nil {
		return sender{}, fmt.Errorf("mail: the sender address (WARDEN_MAIL_FROM) is not a single valid address such as warden@example.com or \"Warden <warden@example.com>\": %v", err)
	}
	at := strings.LastIndexByte(addr.Address, '@')
	domain := addr.Address[at+1:]
	return sender{addr: addr, domain: domain}, nil
}

// compose validates m and builds the go-mail message both mailers write.
// It returns the parsed recipient for logging and error scrubbing.
func (s sender) compose(m Message) (*gomail.Msg, *mail.Address, error) {
	rcpt, err := m.recipient()
	if err != nil {
		return nil, nil, err
	}
	msg := gomail.NewMsg(gomail.WithNoDefaultUserAgent())
	msg.FromMailAddress(s.addr)
	msg.ToMailAddress(rcpt)
	msg.Subject(m.Subject)
	msg.SetDateWithValue(time.Now().UTC())
	// go-mail's default Message-ID names this machine's host name; the
	// sender's domain says nothing about the deployment.
	msg.SetMessageIDWithValue(randomHex(16) + "@" + s.domain)
	// RFC 3834: keep vacation responders and auto-replies away.
	msg.SetGenHeader(gomail.Header("Auto-Submitted"), "auto-generated")
	msg.SetBodyString(gomail.TypeTextPlain, m.Text)
	if m.HTML != "" {
		msg.AddAlternativeString(gomail.TypeTextHTML, m.HTML)
	}
	return msg, rcpt, nil
}

// randomHex returns n random bytes, hex encoded. crypto/rand.Read never
// fails (it panics if the system's generator is unusable).
func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// recipientDomain returns the part of a validated address after the last
// '@', lower-cased: what Warden logs instead of the whole address.
func recipientDomain(addr string) string {
	at := strings.LastIndexByte(addr, '@')
	if at < 0 {
		return ""
	}
	return strings.ToLower(addr[at+1:])
}
