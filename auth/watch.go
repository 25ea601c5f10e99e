package auth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/wardenhq/warden/revoke"
)

// Checker re-examines an identity established earlier, for connections that
// outlive the request that authenticated them (WebSocket, server-sent
// events). Check returns nil while the credential still stands, an error
// wrapping ErrInvalidCredentials once it has been revoked, and one wrapping
// ErrUnavailable when it cannot tell.
type Checker interface {
	Check(ctx context.Context, id *Identity) error
}

// Check implements Checker: it asks the revocation list about id at every
// grain (its token, its login, its holder's not-before), as Verify does on
// each request. It does not look at the token's expiry: a connection opened
// with a valid token may outlive it, and ends when its login is revoked.
func (j *JWT) Check(ctx context.Context, id *Identity) error {
	_, err := j.checkRevoked(ctx, id)
	return err
}

// DefaultWatchInterval is how often a Watcher re-checks its identities when
// WatcherOptions.Interval is zero. With the revocation cache's bound (under
// revoke.MaxPropagation) it keeps the time from a revocation to the end of
// the connections it covers within revoke.MaxPropagation.
const DefaultWatchInterval = time.Second

// WatcherOptions configure a Watcher.
type WatcherOptions struct {
	// Interval between rounds of checks; DefaultWatchInterval when zero.
	Interval time.Duration
	// Tolerance is how long an identity may go unchecked because the
	// store cannot answer before its connections are ended anyway: past it
	// a revocation could no longer be honoured in time. Zero means
	// revoke.MaxPropagation.
	Tolerance time.Duration
	// Logger receives connection ends; slog.Default() when nil.
	Logger *slog.Logger
	// Now is the clock; time.Now when nil.
	Now func() time.Time
}

// Watcher ends long-lived connections whose credential is revoked. A
// connection registers its identity with Watch and an end function; a
// background loop (Run) checks every registered identity once per
// Interval (a round that takes longer delays the next) and calls end,
// once, with the reason:
//   - an error wrapping ErrInvalidCredentials when the credential was revoked;
//   - an error wrapping ErrUnavailable when the Checker has not been able to
//     answer for longer than Tolerance (fail closed: the connection is no
//     longer known to be honoured).
//
// Connections sharing a credential (several tabs of one login) are checked
// once per round. When a check reports ErrUnavailable, the rest of the round
// is not asked (the store is down; asking it thousands of times would only
// add load) and counts as unanswered too.
type Watcher struct {
	checker   Checker
	interval  time.Duration
	tolerance time.Duration
	log       *slog.Logger
	now       func() time.Time

	mu      sync.Mutex
	watched map[watchKey]*watchGroup
}

// watchKey is what a revocation decision looks at: connections with equal
// keys stand or fall together.
type watchKey struct {
	token, session, subject string
	issuedAt                int64
}

type watchGroup struct {
	id *Identity
	// ends holds each connection's end function, by registration.
	ends map[*watchEntry]struct{}
	// unansweredSince is when checks of this identity started failing;
	// zero while they succeed.
	unansweredSince time.Time
}

type watchEntry struct{ end func(error) }

// NewWatcher returns a Watcher that asks c. Call Run to start checking.
func NewWatcher(c Checker, opts WatcherOptions) *Watcher {
	if opts.Interval <= 0 {
		opts.Interval = DefaultWatchInterval
	}
	if opts.Tolerance <= 0 {
		opts.Tolerance = revoke.MaxPropagation
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Watcher{
		checker: c, interval: opts.Interval, tolerance: opts.Tolerance,
		log: opts.Logger, now: opts.Now,
		watched: make(map[watchKey]*watchGroup),
	}
}

// Watch registers a connection authenticated as id. end is called at most
// once, from the Watcher's goroutine, when the credential is revoked or can
// no longer be checked; it must not block (cancel a context, close a
// channel). stop unregisters the connection; call it when the connection
// ends for any other reason. stop is idempotent.
func (w *Watcher) Watch(id *Identity, end func(error)) (stop func()) {
	k := watchKey{token: id.TokenID, session: id.SessionID, subject: id.UserID, issuedAt: id.IssuedAt.UnixMicro()}
	e := &watchEntry{end: end}
	w.mu.Lock()
	g := w.watched[k]
	if g == nil {
		g = &watchGroup{id: id, ends: make(map[*watchEntry]struct{})}
		w.watched[k] = g
	}
	g.ends[e] = struct{}{}
	w.mu.Unlock()
	return func() {
		w.mu.Lock()
		defer w.mu.Unlock()
		if g := w.watched[k]; g != nil {
			delete(g.ends, e)
			if len(g.ends) == 0 {
				delete(w.watched, k)
			}
		}
	}
}

// Len reports how many connections are watched.
func (w *Watcher) Len() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := 0
	for _, g := range w.watched {
		n += len(g.ends)
	}
	return n
}

// Run checks every Interval until ctx ends.
func (w *Watcher) Run(ctx context.Context) {
	t := time.NewTicker(w.interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			w.round(ctx)
		}
	}
}

// round checks each watched identity once.
func (w *Watcher) round(ctx context.Context) {
	w.mu.Lock()
	keys := make([]watchKey, 0, len(w.watched))
	ids := make([]*Identity, 0, len(w.watched))
	for k, g := range w.watched {
		keys = append(keys, k)
		ids = append(ids, g.id)
	}
	w.mu.Unlock()

	// Each check, not the round, has a deadline of one interval: a store
	// that hangs counts as down, while a round that is merely long (many
	// connections on a busy machine) finishes late rather than counting
	// the credentials it had no time for as unanswered, which would end
	// healthy connections by the thousand.
	var storeDown error
	for i, k := range keys {
		if ctx.Err() != nil {
			return
		}
		err := storeDown
		if err == nil {
			err = w.check(ctx, ids[i])
			if err != nil && !errors.Is(err, ErrInvalidCredentials) {
				storeDown = err
			}
		}
		w.settle(k, err)
	}
}

func (w *Watcher) check(ctx context.Context, id *Identity) error {
	ctx, cancel := context.WithTimeout(ctx, w.interval)
	defer cancel()
	return w.checker.Check(ctx, id)
}

// settle applies one identity's answer to its connections.
func (w *Watcher) settle(k watchKey, err error) {
	w.mu.Lock()
	g := w.watched[k]
	if g == nil { // every connection ended meanwhile
		w.mu.Unlock()
		return
	}
	var reason error
	switch {
	case err == nil:
		g.unansweredSince = time.Time{}
	case errors.Is(err, ErrInvalidCredentials):
		reason = err
	default:
		now := w.now()
		if g.unansweredSince.IsZero() {
			g.unansweredSince = now
		}
		if now.Sub(g.unansweredSince) >= w.tolerance {
			reason = fmt.Errorf("%w: not checked for %s: %v", ErrUnavailable, w.tolerance, err)
		}
	}
	if reason == nil {
		w.mu.Unlock()
		return
	}
	delete(w.watched, k)
	ends := make([]*watchEntry, 0, len(g.ends))
	for e := range g.ends {
		ends = append(ends, e)
	}
	w.mu.Unlock()

	w.log.LogAttrs(context.Background(), slog.LevelInfo, "ending connections of a credential that no longer stands",
		slog.String("user_id", g.id.UserID), slog.Int("connections", len(ends)), slog.String("reason", reason.Error()))
	for _, e := range ends {
		e.end(reason)
	}
}
