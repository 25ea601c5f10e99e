package mail

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	gomail "github.com/wneessen/go-mail"
	gosmtp "github.com/wneessen/go-mail/smtp"
)

const (
	// portSubmission is the STARTTLS submission port (RFC 6409).
	portSubmission = 587
	// portSubmissions is the implicit-TLS submission port (RFC 8314).
	portSubmissions = 465
	// defaultSendTimeout bounds one Send from dial to QUIT when the
	// caller's context allows longer: a stalled relay must not pin a
	// goroutine for ever.
	defaultSendTimeout = 30 * time.Second
)

// SMTP sends messages to a mail submission server. Each Send opens its own
// connection, so an SMTP is safe for concurrent use and holds no
// connection between messages.
//
// With an smtp:// URL the connection starts in plain text and upgrades
// with STARTTLS whenever the server offers it; with smtps:// it is TLS from
// the first byte. Certificates are verified against the system roots
// (SSL_CERT_FILE and SSL_CERT_DIR add private CAs) with TLS 1.2 at least.
// The password is sent only with AUTH PLAIN or LOGIN, and only over TLS or
// to a loopback server; a relay that offers neither gets no password and
// the send fails.
//
// An SMTP never prints its password: String, GoString and LogValue show
// only the scheme, host and port.
type SMTP struct {
	sender
	host        string
	port        int
	implicitTLS bool
	username    string
	password    string
	logger      *slog.Logger

	// Set only by tests (export_test.go): extra trusted roots, a shorter
	// timeout, and an address to dial instead of host:port (so a test can
	// name a non-loopback host yet reach its own server).
	tlsConfig *tls.Config
	timeout   time.Duration
	dialAddr  string
}

// NewSMTP returns a mailer for the server named by rawURL, sending as from
// (WARDEN_SMTP_URL and WARDEN_MAIL_FROM). rawURL is
// smtp://[user:password@]host[:port] (port 587 by default, STARTTLS when
// offered) or smtps://[user:password@]host[:port] (port 465 by default,
// implicit TLS). A user name and password containing reserved characters
// (@ : / ? # %) must be percent-encoded. The URL has no path, query or
// fragment.
//
// from is one address as net/mail parses it, with or without a display
// name. Errors say what is wrong with the URL and never contain its
// password. logger may be nil.
func NewSMTP(rawURL string, from string, logger *slog.Logger) (*SMTP, error) {
	s, err := parseSMTPURL(rawURL)
	if err != nil {
		return nil, err
	}
	s.sender, err = parseSender(from)
	if err != nil {
		return nil, err
	}
	s.logger = orDiscard(logger)
	s.timeout = defaultSendTimeout
	return s, nil
}

// parseSMTPURL validates rawURL. No error it returns quotes the URL or
// any part of it: a password with an unescaped '/' or '#' makes url.Parse
// split the URL in the middle of the password, and its errors would then
// print the pieces.
func parseSMTPURL(rawURL string) (*SMTP, error) {
	const hint = "mail: WARDEN_SMTP_URL must look like smtp://user:password@host:587 or smtps://user:password@host:465"
	if strings.ContainsAny(rawURL, "\r\n\x00") {
		return nil, errors.New(hint + " (it contains a line break or NUL)")
	}
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, errors.New(hint + " (it does not parse as a URL; percent-encode @ : / ? # % in the user name and password)")
	}
	s := &SMTP{}
	switch u.Scheme {
	case "smtp":
		s.port = portSubmission
	case "smtps":
		s.port, s.implicitTLS = portSubmissions, true
	default:
		return nil, errors.New(hint + " (the scheme is neither smtp nor smtps)")
	}
	if u.Opaque != "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.ForceQuery || u.Fragment != "" {
		return nil, errors.New(hint + " (it has a path, query or fragment; percent-encode / ? # in the password)")
	}
	s.host = u.Hostname()
	if s.host == "" {
		return nil, errors.New(hint + " (the host is missing)")
	}
	if p := u.Port(); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return nil, errors.New(hint + " (the port is not a number from 1 to 65535)")
		}
		s.port = n
	}
	if u.User != nil {
		s.username = u.User.Username()
		s.password, _ = u.User.Password()
		if s.username == "" || s.password == "" {
			return nil, errors.New(hint + " (give both a user name and a password, or neither)")
		}
		// SASL PLAIN separates its fields with NUL; a decoded control
		// character in either would corrupt or forge the exchange.
		if !IsOneLine(s.username) || !IsOneLine(s.password) {
			return nil, errors.New(hint + " (the user name or password contains a control character)")
		}
	}
	return s, nil
}

// String returns the server's URL without credentials.
func (s *SMTP) String() string {
	scheme := "smtp"
	if s.implicitTLS {
		scheme = "smtps"
	}
	return scheme + "://" + net.JoinHostPort(s.host, strconv.Itoa(s.port))
}

// GoString is String, so that %#v cannot print the password either.
func (s *SMTP) GoString() string { return s.String() }

// LogValue is String, so that slog cannot print the password either.
func (s *SMTP) LogValue() slog.Value { return slog.StringValue(s.String()) }

// Send validates m, then delivers it in one SMTP session that ends when
// ctx ends or after 30 seconds, whichever comes first. An error wrapping
// ErrInvalidMessage means nothing was sent. A delivery error is returned
// with the server's reason; its text never contains the SMTP password or
// the recipient's address (errors.As still reaches go-mail's errors).
func (s *SMTP) Send(ctx context.Context, m Message) error {
	msg, rcpt, err := s.compose(m)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()

	opts := []gomail.Option{
		gomail.WithPort(s.port),
		gomail.WithTimeout(s.timeout),
		gomail.WithTLSConfig(s.clientTLSConfig()),
		gomail.WithDialContextFunc(s.dialFunc(ctx)),
	}
	if s.implicitTLS {
		opts = append(opts, gomail.WithSSL())
	} else {
		// Not WithTLSPortPolicy: that one falls back to port 25 in plain
		// text when the submission port does not answer.
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSOpportunistic))
	}
	if s.username != "" {
		opts = append(opts, gomail.WithSMTPAuthCustom(&passwordAuth{
			username: s.username, password: s.password, host: s.host,
		}))
	}
	client, err := gomail.NewClient(s.host, opts...)
	if err != nil {
		return s.scrub(fmt.Errorf("mail: configuring SMTP client: %w", err), rcpt.Address)
	}
	if err := client.DialAndSendWithContext(ctx, msg); err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil {
			// The connection was closed under go-mail's feet; say why.
			err = fmt.Errorf("%w: %w", ctxErr, err)
		}
		return s.scrub(fmt.Errorf("mail: sending via %s: %w", s, err), rcpt.Address)
	}
	s.logger.DebugContext(ctx, "mail sent", "subject", m.Subject, "recipient_domain", recipientDomain(rcpt.Address))
	return nil
}

// clientTLSConfig returns the TLS settings for one session: system roots,
// TLS 1.2 or later, and the server name taken from the URL.
func (s *SMTP) clientTLSConfig() *tls.Config {
	cfg := &tls.Config{}
	if s.tlsConfig != nil {
		cfg = s.tlsConfig.Clone()
	}
	if cfg.ServerName == "" {
		cfg.ServerName = s.host
	}
	if cfg.MinVersion < tls.VersionTLS12 {
		cfg.MinVersion = tls.VersionTLS12
	}
	return cfg
}

// dialFunc dials the server (with TLS for smtps) and ties the connection
// to ctx: go-mail applies its own per-command deadlines but does not watch
// the context after dialing, so closing the connection when ctx ends is
// what makes Send return on cancellation.
func (s *SMTP) dialFunc(ctx context.Context) gomail.DialContextFunc {
	return func(dialCtx context.Context, network, addr string) (net.Conn, error) {
		if s.dialAddr != "" {
			addr = s.dialAddr
		}
		d := &net.Dialer{}
		var conn net.Conn
		var err error
		if s.implicitTLS {
			td := &tls.Dialer{NetDialer: d, Config: s.clientTLSConfig()}
			conn, err = td.DialContext(dialCtx, network, addr)
		} else {
			conn, err = d.DialContext(dialCtx, network, addr)
		}
		if err != nil {
			return nil, err
		}
		context.AfterFunc(ctx, func() { _ = conn.Close() })
		return conn, nil
	}
}

// scrub returns err with a text from which the password and the recipient
// address are removed. go-mail does not put the password in its errors,
// but a server's reply or a future library change might; go-mail does put
// the recipient there, and the caller will log this error.
func (s *SMTP) scrub(err error, recipient string) error {
	text := err.Error()
	if s.password != "" {
		text = strings.ReplaceAll(text, s.password, "[redacted]")
	}
	text = redactAddress(text, recipient)
	return &scrubbedError{text: text, err: err}
}

// redactAddress replaces every occurrence of addr in text, in any letter
// case (servers echo addresses as they like), with a placeholder that
// keeps the domain.
func redactAddress(text, addr string) string {
	if addr == "" {
		return text
	}
	re := regexp.MustCompile("(?i)" + regexp.QuoteMeta(addr))
	return re.ReplaceAllLiteralString(text, "<redacted>@"+recipientDomain(addr))
}

// scrubbedError is an error whose text has been cleaned of secrets and
// personal data; Unwrap still reaches the original error for errors.Is
// and errors.As.
type scrubbedError struct {
	text string
	err  error
}

func (e *scrubbedError) Error() string { return e.text }
func (e *scrubbedError) Unwrap() error { return e.err }

// passwordAuth chooses AUTH PLAIN, else LOGIN, from the mechanisms the
// server offers, and lets go-mail's implementations refuse to run either
// unless the connection is TLS or the server is on loopback.
//
// go-mail's own automatic choice is not used: on a connection without TLS
// it would pick CRAM-MD5 or SCRAM, whose exchanges an active attacker who
// stripped STARTTLS (and chose the SCRAM salt and iteration count) could
// take offline to guess the password.
type passwordAuth struct {
	username, password, host string
	mech                     gosmtp.Auth
}

var errNoPasswordMechanism = errors.New("the server offers neither AUTH PLAIN nor AUTH LOGIN")

func (a *passwordAuth) Start(server *gosmtp.ServerInfo) (string, []byte, error) {
	switch {
	case offers(server.Auth, "PLAIN"):
		a.mech = gosmtp.PlainAuth("", a.username, a.password, a.host, false)
	case offers(server.Auth, "LOGIN"):
		a.mech = gosmtp.LoginAuth(a.username, a.password, a.host, false)
	default:
		return "", nil, errNoPasswordMechanism
	}
	proto, resp, err := a.mech.Start(server)
	if errors.Is(err, gosmtp.ErrUnencrypted) {
		return "", nil, fmt.Errorf("refusing to send the SMTP password over a connection without TLS (the server did not offer STARTTLS; use smtps:// or enable STARTTLS on the server): %w", err)
	}
	return proto, resp, err
}

func (a *passwordAuth) Next(fromServer []byte, more bool) ([]byte, error) {
	return a.mech.Next(fromServer, more)
}

func offers(mechs []string, want string) bool {
	for _, m := range mechs {
		if strings.EqualFold(m, want) {
			return true
		}
	}
	return false
}

func orDiscard(l *slog.Logger) *slog.Logger {
	if l == nil {
		return slog.New(slog.DiscardHandler)
	}
	return l
}
