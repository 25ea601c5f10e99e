package mail

import (
	"crypto/tls"
	"log/slog"
	"time"
)

// TestOptions are the knobs tests need and production must not have.
type TestOptions struct {
	// TLSConfig replaces the default client TLS settings (a test trusts
	// its own self-signed certificate through RootCAs).
	TLSConfig *tls.Config
	// Timeout replaces the 30-second bound on one Send.
	Timeout time.Duration
	// DialAddr is dialled instead of the URL's host:port, so that the URL
	// can name a host that is not loopback.
	DialAddr string
}

// NewSMTPForTest is NewSMTP with TestOptions applied.
func NewSMTPForTest(rawURL, from string, logger *slog.Logger, o TestOptions) (*SMTP, error) {
	s, err := NewSMTP(rawURL, from, logger)
	if err != nil {
		return nil, err
	}
	s.tlsConfig = o.TLSConfig
	if o.Timeout > 0 {
		s.timeout = o.Timeout
	}
	s.dialAddr = o.DialAddr
	return s, nil
}
