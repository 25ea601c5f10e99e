package auth_test

import (
	"context"
	"errors"
	"net/http/httptest"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wardenhq/warden/auth"
	"github.com/wardenhq/warden/revoke"
)

// flakyStore counts Check calls and can be switched to fail.
type flakyStore struct {
	revoke.Store
	checks atomic.Int64
	down   atomic.Bool
}

func (s *flakyStore) Check(ctx context.Context, t revoke.Token) (bool, error) {
	s.checks.Add(1)
	if s.down.Load() {
		return false, errors.New("store down")
	}
	return s.Store.Check(ctx, t)
}

// watched verifies a fresh token of sub's login sid and returns its identity.
func watchedIdentity(t *testing.T, j *auth.JWT, sub, sid string) *auth.Identity {
	t.Helper()
	signer := auth.Signer{Algorithm: "HS256", Key: hmacSecret, Issuer: "warden", Audience: "warden"}
	tok, err := signer.Sign(sub, map[string]any{"sid": sid})
	if err != nil {
		t.Fatal(err)
	}
	id, err := j.Verify(httptest.NewRequest("GET", "/", nil), tok.Raw)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// ended returns an end function and a channel that receives its reason.
func ended() (func(error), chan error) {
	c := make(chan error, 1)
	return func(err error) { c <- err }, c
}

func waitEnd(t *testing.T, c chan error, within time.Duration) error {
	t.Helper()
	select {
	case err := <-c:
		return err
	case <-time.After(within):
		t.Fatalf("connection not ended within %s", within)
		return nil
	}
}

func TestWatcherEndsConnectionsOfARevokedLogin(t *testing.T) {
	store := &flakyStore{Store: revoke.NewMemory(revoke.MemoryOptions{})}
	j := newJWT(t, auth.JWTConfig{Keys: []auth.JWTKey{{Algorithm: "HS256", Secret: hmacSecret}}, Revocation: store})
	w := auth.NewWatcher(j, auth.WatcherOptions{Interval: 20 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go w.Run(ctx)

	alice := watchedIdentity(t, j, "alice", "login-a")
	tab1, tab1Ended := ended()
	tab2, tab2Ended := ended()
	w.Watch(alice, tab1)
	w.Watch(alice, tab2)
	other, otherEnded := ended()
	w.Watch(watchedIdentity(t, j, "alice", "login-b"), other)
	if n := w.Len(); n != 3 {
		t.Fatalf("Len = %d, want 3", n)
	}

	// Two tabs of one login are one check per round.
	before := store.checks.Load()
	time.Sleep(110 * time.Millisecond)
	if perRound := float64(store.checks.Load()-before) / 5; perRound > 2.5 {
		t.Errorf("about %.1f checks per round for 2 distinct credentials", perRound)
	}

	if err := j.RevokeSession(ctx, "login-a"); err != nil {
		t.Fatal(err)
	}
	for _, c := range []chan error{tab1Ended, tab2Ended} {
		if err := waitEnd(t, c, 5*time.Second); !errors.Is(err, auth.ErrInvalidCredentials) {
			t.Fatalf("end reason %v, want ErrInvalidCredentials", err)
		}
	}
	select {
	case err := <-otherEnded:
		t.Fatalf("another login's connection ended: %v", err)
	case <-time.After(100 * time.Millisecond):
	}
	if n := w.Len(); n != 1 {
		t.Fatalf("Len = %d after the revocation, want 1", n)
	}

	// Log out everywhere ends the rest.
	if err := j.RevokeUser(ctx, "alice"); err != nil {
		t.Fatal(err)
	}
	if err := waitEnd(t, otherEnded, 5*time.Second); !errors.Is(err, auth.ErrInvalidCredentials) {
		t.Fatalf("end reason %v", err)
	}
}

func TestWatcherFailsClosedWhenTheStoreStaysDown(t *testing.T) {
	store := &flakyStore{Store: revoke.NewMemory(revoke.MemoryOptions{})}
	j := newJWT(t, auth.JWTConfig{Keys: []auth.JWTKey{{Algorithm: "HS256", Secret: hmacSecret}}, Revocation: store})
	w := auth.NewWatcher(j, auth.WatcherOptions{Interval: 20 * time.Millisecond, Tolerance: 200 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go w.Run(ctx)

	// A short outage is tolerated.
	end, endedC := ended()
	w.Watch(watchedIdentity(t, j, "bob", "login-c"), end)
	store.down.Store(true)
	time.Sleep(60 * time.Millisecond)
	store.down.Store(false)
	select {
	case err := <-endedC:
		t.Fatalf("ended during a short outage: %v", err)
	case <-time.After(400 * time.Millisecond):
	}

	// A long one ends the connection, and a round asks a down store once.
	for i := range 50 {
		w.Watch(watchedIdentity(t, j, "carol", "login-"+string(rune('A'+i))), func(error) {})
	}
	store.down.Store(true)
	before := store.checks.Load()
	if err := waitEnd(t, endedC, 5*time.Second); !errors.Is(err, auth.ErrUnavailable) {
		t.Fatalf("end reason %v, want ErrUnavailable", err)
	}
	if calls := store.checks.Load() - before; calls > 40 {
		t.Errorf("%d checks of a down store for 51 identities over about 10 rounds", calls)
	}
}

func TestWatcherStopUnregisters(t *testing.T) {
	j := newJWT(t, auth.JWTConfig{Keys: []auth.JWTKey{{Algorithm: "HS256", Secret: hmacSecret}}, Revocation: revoke.NewMemory(revoke.MemoryOptions{})})
	w := auth.NewWatcher(j, auth.WatcherOptions{Interval: 10 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go w.Run(ctx)
	id := watchedIdentity(t, j, "dave", "login-d")
	end, endedC := ended()
	stop := w.Watch(id, end)
	stop()
	stop()
	if n := w.Len(); n != 0 {
		t.Fatalf("Len = %d after stop", n)
	}
	if err := j.RevokeSession(ctx, "login-d"); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-endedC:
		t.Fatalf("a stopped connection was ended: %v", err)
	case <-time.After(100 * time.Millisecond):
	}
}

// slowChecker answers "still valid", slowly.
type slowChecker struct{ delay time.Duration }

func (c slowChecker) Check(ctx context.Context, _ *auth.Identity) error {
	select {
	case <-time.After(c.delay):
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// A round longer than the interval (many connections, a busy machine) ends
// nothing: only a store that fails or hangs does.
func TestWatcherLongRoundsEndNothing(t *testing.T) {
	w := auth.NewWatcher(slowChecker{delay: 2 * time.Millisecond}, auth.WatcherOptions{Interval: 20 * time.Millisecond, Tolerance: 100 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go w.Run(ctx)
	ended := make(chan error, 200)
	for i := range 200 { // a round takes about 400 ms: 20 intervals, 4 tolerances
		w.Watch(&auth.Identity{UserID: "u", SessionID: "s" + strconv.Itoa(i)}, func(err error) { ended <- err })
	}
	select {
	case err := <-ended:
		t.Fatalf("a connection was ended while every check answered: %v", err)
	case <-time.After(time.Second):
	}

	// A store that hangs is down: every check times out.
	hung := auth.NewWatcher(slowChecker{delay: time.Hour}, auth.WatcherOptions{Interval: 20 * time.Millisecond, Tolerance: 100 * time.Millisecond})
	go hung.Run(ctx)
	end := make(chan error, 1)
	hung.Watch(&auth.Identity{UserID: "u", SessionID: "x"}, func(err error) { end <- err })
	select {
	case err := <-end:
		if !errors.Is(err, auth.ErrUnavailable) {
			t.Fatalf("end reason %v, want ErrUnavailable", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a hung store did not end the connection")
	}
}
