// Package bookclub is Warden's reference application, built on the library
// the way a Warden app is meant to be written: books (permission to add,
// owner-or-staff to change), profiles with visibility, follows with
// requests, and reviews with sanitized HTML.
//
// Contract: the feature owns its routes (Mount), its service and its
// schema (Migrate, one directory of goose migrations per dialect). It
// knows users only through the accounts feature's exported directory
// (user ids and usernames), never through the accounts tables. Paths,
// status codes and member names follow docs/API.md.
//
// Every user has a profile, but not necessarily a row: a missing row in
// profiles means the defaults (public, empty bio, no avatar,
// notifications on), and the row is created by the user's first change.
// Who may see and change what (profile visibility, follow requests,
// private reviews) is set out in social.go.
package bookclub

import (
	"context"
	"embed"
	"errors"
	"io/fs"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wardenhq/warden"
	"github.com/wardenhq/warden/auth"
	"github.com/wardenhq/warden/fanout"
	"github.com/wardenhq/warden/files"
	"github.com/wardenhq/warden/internal/accounts"
	"github.com/wardenhq/warden/internal/store"
	"github.com/wardenhq/warden/ratelimit"
	"github.com/wardenhq/warden/sse"
	"github.com/wardenhq/warden/ticket"
	"github.com/wardenhq/warden/ws"
)

//go:embed migrations
var migrations embed.FS

// Migrate brings the book club's schema up to date, then sets the kept
// book count from the rows (recountBooks).
func Migrate(ctx context.Context, db *store.DB) error {
	// store.DB.Migrate wants the per-dialect directories at the root.
	dirs, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return err
	}
	if err := db.Migrate(ctx, "bookclub", dirs); err != nil {
		return err
	}
	return recountBooks(ctx, db)
}

// Config wires the feature.
type Config struct {
	DB       *store.DB
	Accounts *accounts.Service
	// Bearer authenticates the signed-in routes (the accounts feature's
	// Authenticator: tokens bound to a login).
	Bearer auth.Authenticator
	// Session, when set, authenticates them too, after Bearer: the
	// browser-mode session cookie (accounts' CookieAuthenticator).
	// Bearer's Check must then judge its identities as well.
	Session auth.Authenticator
	// NewLimiter builds the limiter for one policy (shared in Redis when
	// configured); in memory when nil.
	NewLimiter func(ratelimit.Policy) (ratelimit.Limiter, error)
	// Media stores avatar files (<data dir>/media/, which the server
	// serves under MediaURLPrefix); nil leaves the avatar upload route
	// out.
	Media *files.Store
	// Realtime (realtime.go). Tickets holds the one-time tickets that open
	// sockets and event streams, and Bus carries events between instances:
	// both in this process when nil (one instance). Sockets and Streams
	// are the WebSocket and event-stream servers with their caps; built
	// with the libraries' defaults when nil. Bearer must implement
	// auth.Checker, so that open connections end when their login is
	// revoked.
	Tickets ticket.Store
	Bus     fanout.Bus
	Sockets *ws.Server
	Streams *sse.Server
	Logger  *slog.Logger
	Now     func() time.Time
}

// Service is the book club.
type Service struct {
	cfg Config
	log *slog.Logger
	now func() time.Time
	// stmts holds prepared statements of hot read queries, by query text
	// (preparedStmt).
	stmts sync.Map
	// names remembers usernames by user id for a minute (books_names.go).
	names nameCache
	// firstPage is the rendered first page of books (books.go).
	firstPage atomic.Pointer[firstPage]
	// rt is the realtime state: event hub, login watcher, connection
	// servers (realtime.go).
	rt *realtime
}

// New validates cfg and returns the service.
func New(cfg Config) (*Service, error) {
	if cfg.DB == nil || cfg.Accounts == nil || cfg.Bearer == nil {
		return nil, errors.New("bookclub: DB, Accounts and Bearer are required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.NewLimiter == nil {
		cfg.NewLimiter = func(p ratelimit.Policy) (ratelimit.Limiter, error) {
			return ratelimit.NewMemory(p, ratelimit.MemoryOptions{})
		}
	}
	rt, err := newRealtime(&cfg)
	if err != nil {
		return nil, err
	}
	return &Service{cfg: cfg, log: cfg.Logger, now: cfg.Now, rt: rt}, nil
}

// signedIn is the authentication of every route that knows its caller:
// the bearer token, and the session cookie when configured.
func (s *Service) signedIn() warden.Option {
	if s.cfg.Session == nil {
		return warden.Auth(s.cfg.Bearer)
	}
	return warden.Auth(s.cfg.Bearer, s.cfg.Session)
}

// Mount registers the book club's routes on r.
func (s *Service) Mount(r *warden.Router) error {
	if err := s.mountBooks(r); err != nil {
		return err
	}
	if err := s.mountSocial(r); err != nil {
		return err
	}
	if err := s.mountChat(r); err != nil {
		return err
	}
	if err := s.mountRealtime(r); err != nil {
		return err
	}
	return s.mountAvatar(r)
}
