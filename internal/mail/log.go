package mail

import (
	"context"
	"errors"
	"log/slog"
	"net/mail"
	"strings"
)

// SendLogged sends msg with m and logs a failure at error level, for
// callers whose own outcome must not depend on the mail (registration
// answers the same whether or not its mail went out). It returns the
// error too, for callers that count or retry; ignoring it loses nothing.
//
// The log record holds the subject, the recipient's domain and the error,
// with the recipient's address removed from the error text. It never holds
// the full address (personal data, and a list of who registered) nor the
// body (one-time links). The domain is enough to see that mail to one
// provider fails; a hash of the address was rejected because addresses are
// guessable, so an unkeyed hash hides little.
func SendLogged(ctx context.Context, m Mailer, msg Message, logger *slog.Logger) error {
	err := m.Send(ctx, msg)
	if err == nil {
		return nil
	}
	logger = orDiscard(logger)
	rcpt, perr := mail.ParseAddress(msg.To)
	if perr != nil || errors.Is(err, ErrInvalidMessage) {
		// The recipient may be the malformed field; only its validity is
		// known, so no part of it is logged.
		text := err.Error()
		if msg.To != "" {
			text = strings.ReplaceAll(text, msg.To, "<redacted>")
		}
		logger.ErrorContext(ctx, "mail not sent: invalid message", "error", text)
		return err
	}
	logger.ErrorContext(ctx, "mail not sent",
		"subject", msg.Subject,
		"recipient_domain", recipientDomain(rcpt.Address),
		"error", redactAddress(err.Error(), rcpt.Address))
	return err
}
