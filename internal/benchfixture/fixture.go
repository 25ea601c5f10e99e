// Package benchfixture measures what the Warden pipeline costs compared with a bare
// net/http handler.
//
// It holds the fixture shared by the Go benchmarks in this directory and by
// the load program in bench/load, so that both measure exactly the same
// configuration: one JSON handler, served either bare or behind a Router
// with JWT HS256 authentication (with a revocation check), the
// IsAuthenticated guard, CORS, a memory rate limit that never refuses,
// security headers and the access log. See README.md for how to run them.
package benchfixture

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/wardenhq/warden"
	"github.com/wardenhq/warden/auth"
	"github.com/wardenhq/warden/guard"
	"github.com/wardenhq/warden/ratelimit"
	"github.com/wardenhq/warden/revoke"
	"github.com/wardenhq/warden/secure"
)

// The request every benchmark sends and the answer it expects.
const (
	// Path is the route served on both sides.
	Path = "/api/hello"
	// Origin is the allowed CORS origin every pipeline request carries.
	Origin = "https://app.example.com"
	// UserID is the token's subject, echoed by Handler.
	UserID = "42"
	// ResponseBody is Handler's answer, newline included (warden.WriteJSON
	// appends one).
	ResponseBody = `{"user_id":"42","message":"ok"}` + "\n"
)

// Token settings, mirroring what package app configures.
const (
	KeyID    = "warden"
	Issuer   = "https://auth.example.com"
	Audience = "warden-bench"
	// RevokedEntries unrelated token ids are revoked up front, so that the
	// revocation check looks a token up in a populated map.
	RevokedEntries = 1000
)

// The rate limit: memory, keyed by user, with a rate and burst so high
// that no benchmark can reach them. It is there to measure the cost of the
// limiter and its headers, never to refuse.
const (
	RateLimitName  = "bench"
	RateLimitRate  = 10_000_000 // tokens per second
	RateLimitBurst = 10_000_000
)

// response is Handler's JSON document.
type response struct {
	UserID  string `json:"user_id"`
	Message string `json:"message"`
}

// Handler is the small JSON handler served on both sides. It names the
// authenticated user when there is one (behind the pipeline) and UserID
// otherwise (bare), so both sides send identical bytes with identical work:
// one context lookup, one json.Marshal, one Write.
func Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		uid := UserID
		if id := auth.FromContext(r.Context()); id != nil {
			uid = id.UserID
		}
		warden.WriteJSON(w, http.StatusOK, response{UserID: uid, Message: "ok"})
	})
}

// Options turns parts of the pipeline off, to attribute its cost. The zero
// value is the full pipeline.
type Options struct {
	NoAccessLog bool
	NoAuth      bool // no JWT backend and no guard; requests stay anonymous
	NoCORS      bool
	NoRateLimit bool
	// Logger replaces the access logger, a slog JSON handler writing to
	// io.Discard: formatting is measured, disk I/O is not.
	Logger *slog.Logger
}

// Fixture is the pipeline under test and the credentials to call it.
type Fixture struct {
	// Router serves Handler on Path through the pipeline.
	Router *warden.Router
	// JWT is the backend the Router uses, for benchmarking Verify alone.
	JWT *auth.JWT
	// Token is a valid access token for UserID, good for an hour.
	Token string
	// Revoked is the revocation store the JWT backend consults.
	Revoked *revoke.Memory
	// Secret is the HS256 key.
	Secret []byte
}

// DiscardLogger returns the access logger the fixture uses by default, as
// warden serve configures its own: a LogWriter's JSON handler, the access
// line formatted in full into its buffer and written to io.Discard. Its
// writing goroutine lives as long as the process.
func DiscardLogger() *slog.Logger {
	return slog.New(warden.NewLogWriter(io.Discard, warden.LogWriterOptions{}).JSONHandler(nil))
}

// SlogDiscardLogger is slog's JSON handler writing to io.Discard: the
// access line through a slog.Record, as for a logger a LogWriter does
// not format.
func SlogDiscardLogger() *slog.Logger {
	return slog.New(slog.NewJSONHandler(io.Discard, nil))
}

// NewFixture builds the pipeline described in the package documentation.
func NewFixture(o Options) (*Fixture, error) {
	f := &Fixture{
		Secret:  []byte("bench-secret-bench-secret-bench-secret-0123456789"),
		Revoked: revoke.NewMemory(revoke.MemoryOptions{}),
	}
	ctx := context.Background()
	for i := range RevokedEntries {
		if err := f.Revoked.Revoke(ctx, "revoked-"+strconv.Itoa(i), time.Now().Add(time.Hour)); err != nil {
			return nil, err
		}
	}
	var err error
	f.JWT, err = auth.NewJWT(auth.JWTConfig{
		Keys:       []auth.JWTKey{{ID: KeyID, Algorithm: "HS256", Secret: f.Secret}},
		Issuer:     Issuer,
		Audience:   Audience,
		Type:       "at+jwt",
		Revocation: f.Revoked,
	})
	if err != nil {
		return nil, err
	}
	signer := &auth.Signer{KeyID: KeyID, Algorithm: "HS256", Key: f.Secret, Issuer: Issuer, Audience: Audience, TTL: time.Hour}
	tok, err := signer.Sign(UserID, map[string]any{"permissions": []string{"demo.read"}})
	if err != nil {
		return nil, err
	}
	f.Token = tok.Raw

	logger := o.Logger
	if logger == nil {
		logger = DiscardLogger()
	}
	cfg := warden.Config{
		Logger:           logger,
		DisableAccessLog: o.NoAccessLog,
		// Production adds Strict-Transport-Security, the largest header set.
		Headers: secure.HeaderOptions{Production: true},
	}
	if !o.NoCORS {
		cfg.CORS, err = secure.NewCORS(secure.CORSPolicy{
			AllowedOrigins: []string{Origin, "https://admin.example.com"},
			AllowedHeaders: []string{"Authorization", "Content-Type"},
		})
		if err != nil {
			return nil, err
		}
	}
	f.Router, err = warden.NewRouter(cfg)
	if err != nil {
		return nil, err
	}
	var opts []warden.Option
	if o.NoAuth {
		// Every route needs a guard; AllowAny costs one call.
		opts = append(opts, warden.Require(guard.AllowAny))
	} else {
		opts = append(opts, warden.Auth(f.JWT), warden.Require(guard.IsAuthenticated))
	}
	if !o.NoRateLimit {
		limiter, err := ratelimit.NewMemory(ratelimit.Policy{Name: RateLimitName, Rate: RateLimitRate, Burst: RateLimitBurst}, ratelimit.MemoryOptions{})
		if err != nil {
			return nil, err
		}
		opts = append(opts, warden.Limit(limiter, ratelimit.ByUser()))
	}
	f.Router.Handle(http.MethodGet, Path, Handler(), opts...)
	return f, nil
}

// Authorization is the Authorization header value carrying f.Token.
func (f *Fixture) Authorization() string { return "Bearer " + f.Token }

// PipelineDescription says in one line what the full pipeline runs, for
// reports.
func PipelineDescription() string {
	return fmt.Sprintf("JWT HS256 (kid, iss, aud, typ, exp, jti revocation check against %d entries) + guard.IsAuthenticated"+
		" + CORS (allowed Origin on every request) + rate limit (memory, ByUser, %d/s burst %d: high enough never to refuse)"+
		" + security headers (HSTS included) + header limits + client IP + request id"+
		" + access log (slog JSON handler to io.Discard: formatting cost measured, not disk I/O)",
		RevokedEntries, RateLimitRate, RateLimitBurst)
}
