package browsertest

import (
	"bytes"
	"errors"
	"io"
	"log"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
)

// mailbox is a real SMTP server on loopback that keeps what it receives:
// the server sends its mail there as it would to a relay.
type mailbox struct {
	mu   sync.Mutex
	msgs []received
	addr string
}

type received struct {
	to   []string
	text string // the text/plain body, decoded
}

func startMailbox(t *testing.T) *mailbox {
	t.Helper()
	mb := &mailbox{}
	srv := smtp.NewServer(mb)
	srv.Domain = "mail.test"
	srv.ReadTimeout = 10 * time.Second
	srv.WriteTimeout = 10 * time.Second
	srv.ErrorLog = log.New(io.Discard, "", 0)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	mb.addr = ln.Addr().String()
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(ln); err != nil && !errors.Is(err, smtp.ErrServerClosed) && !errors.Is(err, net.ErrClosed) {
			t.Errorf("smtp: %v", err)
		}
	}()
	t.Cleanup(func() {
		_ = srv.Close()
		_ = ln.Close()
		<-done
	})
	return mb
}

func (mb *mailbox) NewSession(*smtp.Conn) (smtp.Session, error) { return &mailSession{mb: mb}, nil }

type mailSession struct {
	mb *mailbox
	to []string
}

func (s *mailSession) Mail(string, *smtp.MailOptions) error { return nil }
func (s *mailSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.to = append(s.to, to)
	return nil
}
func (s *mailSession) Reset()        { s.to = nil }
func (s *mailSession) Logout() error { return nil }

func (s *mailSession) Data(r io.Reader) error {
	m, err := mail.ReadMessage(r)
	if err != nil {
		return err
	}
	text, err := plainText(m.Header.Get("Content-Type"), m.Header.Get("Content-Transfer-Encoding"), m.Body)
	if err != nil {
		return err
	}
	s.mb.mu.Lock()
	s.mb.msgs = append(s.mb.msgs, received{to: s.to, text: text})
	s.mb.mu.Unlock()
	return nil
}

// plainText returns the decoded text/plain part of a body.
func plainText(contentType, encoding string, body io.Reader) (string, error) {
	mt, params, err := mime.ParseMediaType(contentType)
	if err != nil {
		return "", err
	}
	if strings.HasPrefix(mt, "multipart/") {
		mr := multipart.NewReader(body, params["boundary"])
		for {
			part, err := mr.NextPart()
			if err != nil {
				return "", err
			}
			if text, err := plainText(part.Header.Get("Content-Type"), part.Header.Get("Content-Transfer-Encoding"), part); err == nil && text != "" {
				return text, nil
			}
		}
	}
	if mt != "text/plain" {
		return "", nil
	}
	if strings.EqualFold(encoding, "quoted-printable") {
		body = quotedprintable.NewReader(body)
	}
	b, err := io.ReadAll(body)
	return string(bytes.ReplaceAll(b, []byte("\r\n"), []byte("\n"))), err
}

// link waits (at most 10 s) for the next message to addr that holds a
// link to path, and returns the link. Each message is read once.
func (mb *mailbox) link(t *testing.T, addr, path string) string {
	t.Helper()
	re := regexp.MustCompile(`https?://[^\s/]+` + regexp.QuoteMeta(path) + `\?token=[A-Za-z0-9_\-%.~]+`)
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		mb.mu.Lock()
		for i, m := range mb.msgs {
			if len(m.to) == 1 && m.to[0] == addr {
				if l := re.FindString(m.text); l != "" {
					mb.msgs = append(mb.msgs[:i], mb.msgs[i+1:]...)
					mb.mu.Unlock()
					return l
				}
			}
		}
		mb.mu.Unlock()
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("no mail to %s with a %s link within 10 s", addr, path)
	return ""
}
