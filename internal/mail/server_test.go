package mail_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"log"
	"math/big"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// testHost is the name the test certificate is issued for. It is not a
// loopback name, so go-mail applies its "TLS or loopback" rule to it.
const testHost = "mail.example.test"

// testCert is a self-signed certificate for testHost and 127.0.0.1, and a
// client configuration that trusts it and nothing else.
type testCert struct {
	server *tls.Config
	client *tls.Config
}

func newTestCert(t *testing.T) testCert {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: testHost},
		DNSNames:              []string{testHost, "localhost"},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(cert)
	return testCert{
		server: &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}},
		client: &tls.Config{RootCAs: roots},
	}
}

// delivery is one message as the test server received it.
type delivery struct {
	From string
	To   []string
	Data []byte
	TLS  bool
	User string // the authenticated user, if any
}

// backend is a go-smtp Backend that records every message and every
// connection. With user set it offers AUTH PLAIN and requires it.
type backend struct {
	user, pass string
	rejectRcpt bool // refuse every recipient, echoing it in capitals

	mu           sync.Mutex
	sessions     int
	authAttempts int
	deliveries   []delivery
}

func (b *backend) NewSession(c *smtp.Conn) (smtp.Session, error) {
	b.mu.Lock()
	b.sessions++
	b.mu.Unlock()
	return &session{b: b, conn: c}, nil
}

func (b *backend) received() []delivery {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]delivery(nil), b.deliveries...)
}

func (b *backend) connections() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.sessions
}

func (b *backend) authentications() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.authAttempts
}

type session struct {
	b    *backend
	conn *smtp.Conn
	user string
	from string
	to   []string
}

func (s *session) AuthMechanisms() []string {
	if s.b.user == "" {
		return nil
	}
	return []string{sasl.Plain}
}

func (s *session) Auth(mech string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(identity, username, password string) error {
		s.b.mu.Lock()
		s.b.authAttempts++
		s.b.mu.Unlock()
		if identity != "" && identity != username {
			return smtp.ErrAuthFailed
		}
		if username != s.b.user || password != s.b.pass {
			return smtp.ErrAuthFailed
		}
		s.user = username
		return nil
	}), nil
}

func (s *session) Mail(from string, _ *smtp.MailOptions) error {
	if s.b.user != "" && s.user == "" {
		return smtp.ErrAuthRequired
	}
	s.from = from
	return nil
}

func (s *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	if s.b.rejectRcpt {
		return &smtp.SMTPError{
			Code:         550,
			EnhancedCode: smtp.EnhancedCode{5, 1, 1},
			Message:      "No such mailbox: " + strings.ToUpper(to),
		}
	}
	s.to = append(s.to, to)
	return nil
}

func (s *session) Data(r io.Reader) error {
	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	_, isTLS := s.conn.TLSConnectionState()
	s.b.mu.Lock()
	s.b.deliveries = append(s.b.deliveries, delivery{From: s.from, To: s.to, Data: data, TLS: isTLS, User: s.user})
	s.b.mu.Unlock()
	return nil
}

func (s *session) Reset()        { s.from, s.to = "", nil }
func (s *session) Logout() error { return nil }

// serverConfig says how the test server listens.
type serverConfig struct {
	startTLS          bool // offer STARTTLS
	implicitTLS       bool // TLS from the first byte (smtps)
	user, pass        string
	allowInsecureAuth bool // offer AUTH without TLS
	rejectRcpt        bool
}

// startServer runs a go-smtp server on 127.0.0.1 for the test's duration
// and returns its backend and address.
func startServer(t *testing.T, cert testCert, cfg serverConfig) (*backend, string) {
	t.Helper()
	be := &backend{user: cfg.user, pass: cfg.pass, rejectRcpt: cfg.rejectRcpt}
	srv := smtp.NewServer(be)
	srv.Domain = testHost
	srv.ReadTimeout = 10 * time.Second
	srv.WriteTimeout = 10 * time.Second
	srv.AllowInsecureAuth = cfg.allowInsecureAuth
	srv.ErrorLog = log.New(io.Discard, "", 0)
	if cfg.startTLS {
		srv.TLSConfig = cert.server
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.implicitTLS {
		ln = tls.NewListener(ln, cert.server)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(ln); err != nil && !errors.Is(err, smtp.ErrServerClosed) && !errors.Is(err, net.ErrClosed) {
			t.Errorf("smtp server: %v", err)
		}
	}()
	t.Cleanup(func() {
		// Close the listener too: when a test ends before the goroutine
		// reached Serve, srv.Close does not know the listener yet, and
		// Serve would then wait in Accept for ever.
		_ = srv.Close()
		_ = ln.Close()
		<-done
	})
	return be, ln.Addr().String()
}

// unusedAddr returns a loopback address on which nothing listens.
func unusedAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	return addr
}

// silentServer accepts connections and never answers, like a relay that
// hangs. Connections are closed when the test ends.
func silentServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		_ = ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			_ = c.Close()
		}
	})
	return ln.Addr().String()
}

// parsedMail is a received or written message, decoded.
type parsedMail struct {
	Header mail.Header
	Text   string
	HTML   string
}

// parseMail parses an RFC 5322 message with net/mail and decodes its
// text/plain and text/html parts (quoted-printable, possibly inside
// multipart/alternative).
func parseMail(t *testing.T, raw []byte) parsedMail {
	t.Helper()
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("message does not parse: %v\n%s", err, raw)
	}
	p := parsedMail{Header: msg.Header}
	mediaType, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if err != nil {
		t.Fatalf("Content-Type: %v", err)
	}
	if strings.HasPrefix(mediaType, "multipart/") {
		mr := multipart.NewReader(msg.Body, params["boundary"])
		for {
			part, err := mr.NextPart() // decodes quoted-printable
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("multipart: %v", err)
			}
			body, err := io.ReadAll(part)
			if err != nil {
				t.Fatal(err)
			}
			p.setPart(t, part.Header.Get("Content-Type"), string(body))
		}
		return p
	}
	var body io.Reader = msg.Body
	if strings.EqualFold(msg.Header.Get("Content-Transfer-Encoding"), "quoted-printable") {
		body = quotedprintable.NewReader(body)
	}
	b, err := io.ReadAll(body)
	if err != nil {
		t.Fatal(err)
	}
	p.setPart(t, msg.Header.Get("Content-Type"), string(b))
	return p
}

func (p *parsedMail) setPart(t *testing.T, contentType, body string) {
	t.Helper()
	mediaType, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		t.Fatalf("part Content-Type %q: %v", contentType, err)
	}
	switch mediaType {
	case "text/plain":
		p.Text = body
	case "text/html":
		p.HTML = body
	default:
		t.Fatalf("unexpected part %s", mediaType)
	}
}

// decodedSubject returns the Subject header with RFC 2047 words decoded.
func (p parsedMail) decodedSubject(t *testing.T) string {
	t.Helper()
	s, err := new(mime.WordDecoder).DecodeHeader(p.Header.Get("Subject"))
	if err != nil {
		t.Fatalf("Subject: %v", err)
	}
	return s
}
