package accounts

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"log/slog"
	"strings"
	"time"

	"github.com/wardenhq/warden/internal/mail"
	"github.com/wardenhq/warden/ratelimit"
)

// Per-recipient mail limits. Anyone may make Warden mail an address
// (register, resend-verification, password-reset), so without a limit per
// recipient a few clients could flood an inbox from many IPs. Each
// recipient has two token buckets, and a mail goes out only when both
// have a token:
//   - a burst of 3, then one more per 10 minutes;
//   - a burst of 10, then one more per 2.4 hours (10 a day).
//
// The limits apply inside the background job, after the request has been
// answered, so the requester cannot see them (API.md: the flow answers
// alike for a registered and a free address). A throttled mail is dropped
// and logged as "mail_throttled" with the account's id, never the address.
// Security notices that only the account holder's own actions cause
// (password changed) are not limited: a stranger who used up an address's
// budget with reset requests must not be able to silence them.
var (
	mailShortPolicy = ratelimit.Policy{Name: "mail-rcpt-10m", Rate: 1.0 / 600, Burst: 3}
	mailDailyPolicy = ratelimit.Policy{Name: "mail-rcpt-day", Rate: 10.0 / 86400, Burst: 10}
)

// mailThrottle holds the two per-recipient limiters.
type mailThrottle struct {
	limiters []ratelimit.Limiter
}

// newMailThrottle builds the limiters with newLimiter, or in memory on the
// service's clock when it is nil (tests move that clock).
func newMailThrottle(newLimiter func(ratelimit.Policy) (ratelimit.Limiter, error), now func() time.Time) (*mailThrottle, error) {
	if newLimiter == nil {
		newLimiter = func(p ratelimit.Policy) (ratelimit.Limiter, error) {
			return ratelimit.NewMemory(p, ratelimit.MemoryOptions{Now: now})
		}
	}
	t := &mailThrottle{}
	for _, p := range []ratelimit.Policy{mailShortPolicy, mailDailyPolicy} {
		l, err := newLimiter(p)
		if err != nil {
			return nil, err
		}
		t.limiters = append(t.limiters, l)
	}
	return t, nil
}

// recipientKey names an address in the limiters: a keyed hash of its
// normalized form. A shared limiter (Redis) then holds no address, and
// since the key is secret, its entries cannot be matched against a list
// of guessed addresses either.
func (s *Service) recipientKey(ctx context.Context, addr string) (string, error) {
	k, err := s.subkey(ctx, "mail-recipient")
	if err != nil {
		return "", err
	}
	m := hmac.New(sha256.New, k)
	m.Write([]byte(key(addr)))
	return "rcpt:" + hex.EncodeToString(m.Sum(nil)[:16]), nil
}

// mayMail reports whether one more mail of kind may go to addr now, and
// takes it from the recipient's budget. It fails closed: when a limiter
// cannot decide, the mail is not sent. userID (may be empty) is what the
// log names instead of the address.
func (s *Service) mayMail(ctx context.Context, kind, userID, addr string) bool {
	rk, err := s.recipientKey(ctx, addr)
	if err == nil {
		for _, l := range s.bg.throttle.limiters {
			var d ratelimit.Decision
			if d, err = l.Allow(ctx, rk); err != nil {
				break
			}
			if !d.Allowed {
				s.event(ctx, slog.LevelWarn, "mail_throttled", slog.String("mail", kind), slog.String("user_id", userID),
					slog.String("policy", l.Policy().Name), slog.Duration("retry_after", d.RetryAfter))
				return false
			}
		}
	}
	if err != nil {
		s.event(ctx, slog.LevelError, "mail_throttle_unavailable", slog.String("mail", kind), slog.String("user_id", userID),
			slog.String("error", redactedError(err, addr)))
		return false
	}
	return true
}

// deliverNow builds and sends one message from inside a job. Failures are
// logged (without the address, see mail.SendLogged), never returned: the
// request that caused the mail has been answered already.
func (s *Service) deliverNow(ctx context.Context, build func() (mail.Message, error)) {
	msg, err := build()
	if err != nil {
		s.log.LogAttrs(ctx, slog.LevelError, "building mail failed", slog.String("error", err.Error()))
		return
	}
	_ = mail.SendLogged(ctx, s.cfg.Mailer, msg, s.log)
}

// redactedError is err's text without addr, for errors that might quote
// the key they were given.
func redactedError(err error, addr string) string {
	text := err.Error()
	for _, a := range []string{addr, key(addr)} {
		if a != "" {
			text = strings.ReplaceAll(text, a, "<redacted>")
		}
	}
	return text
}
