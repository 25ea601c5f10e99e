package redisrevoke_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/wardenhq/warden/internal/redisconn/redistest"
	"github.com/wardenhq/warden/revoke"
	"github.com/wardenhq/warden/revoke/redisrevoke"
	"github.com/wardenhq/warden/revoke/revoketest"
)

var ctx = context.Background()

// newStore returns a Store that is closed when the test ends.
func newStore(t testing.TB, c redis.UniversalClient, prefix string) *redisrevoke.Store {
	s := redisrevoke.New(c, prefix)
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func TestGrains(t *testing.T) {
	revoketest.Grains(t, newStore(t, redistest.Open(t), redistest.Prefix(t)), time.Now)
}

// TestRevocationReachesACachingInstance checks a token on instance b until
// b answers from its cache, revokes it through a at each grain, and
// expects b to refuse it well within revoke.MaxPropagation.
func TestRevocationReachesACachingInstance(t *testing.T) {
	prefix := redistest.Prefix(t)
	a := newStore(t, redistest.Open(t), prefix)
	cb := redistest.Open(t)
	hook := &redistest.CountingHook{}
	cb.AddHook(hook)
	b := newStore(t, cb, prefix)
	revokeSession := func(tok revoke.Token) error { return a.RevokeSession(ctx, tok.Session, time.Now().Add(time.Hour)) }
	revokeUser := func(tok revoke.Token) error {
		return a.RevokeUser(ctx, tok.Subject, time.Now(), time.Now().Add(time.Hour))
	}
	// A session cookie's credential has no token id; it is cached by its
	// login and holder, and revoked at those grains.
	grains := map[string]func(tok revoke.Token) error{
		"token":          func(tok revoke.Token) error { return a.Revoke(ctx, tok.ID, time.Now().Add(time.Hour)) },
		"session":        revokeSession,
		"user":           revokeUser,
		"cookie session": revokeSession,
		"cookie user":    revokeUser,
	}
	for name, revokeIt := range grains {
		t.Run(name, func(t *testing.T) {
			tok := revoke.Token{Session: "sid-" + name, Subject: "user-" + name, IssuedAt: time.Now().Add(-time.Second)}
			if !strings.HasPrefix(name, "cookie") {
				tok.ID = "jti-" + name
			}
			// Once b's subscription is confirmed, a second check is served
			// from its cache without a round trip.
			err := redistest.Eventually(5*time.Second, func() error {
				if _, err := b.Check(ctx, tok); err != nil {
					return err
				}
				before := hook.Count()
				if _, err := b.Check(ctx, tok); err != nil {
					return err
				}
				if hook.Count() != before {
					return errors.New("not cached yet")
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if err := revokeIt(tok); err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			err = redistest.Eventually(revoke.MaxPropagation, func() error {
				if r, err := b.Check(ctx, tok); err != nil || !r {
					return fmt.Errorf("still honoured (%v)", err)
				}
				return nil
			})
			if err != nil {
				t.Fatalf("b honours a token revoked through a %v ago: %v", time.Since(start), err)
			}
			// The instance that revoked holds at once.
			if r, err := a.Check(ctx, tok); err != nil || !r {
				t.Fatalf("a honours its own revocation: %v %v", r, err)
			}
		})
	}
}

func TestRevokeAndCheck(t *testing.T) {
	c := redistest.Open(t)
	prefix := redistest.Prefix(t)
	s := newStore(t, c, prefix)
	now := time.Now()

	tests := []struct {
		name   string
		revoke []time.Duration // expiries, from now, of successive Revoke calls
		wait   time.Duration
		want   bool
		// wantTTL, when set, bounds the key's remaining life from below.
		wantTTL time.Duration
	}{
		{name: "never revoked", want: false},
		{name: "revoked", revoke: []time.Duration{time.Hour}, want: true, wantTTL: 59 * time.Minute},
		{name: "already expired is skipped", revoke: []time.Duration{-time.Second}, want: false},
		{name: "expires with the token", revoke: []time.Duration{300 * time.Millisecond}, wait: 500 * time.Millisecond, want: false},
		{name: "revoking again never shortens", revoke: []time.Duration{time.Hour, time.Minute}, want: true, wantTTL: 59 * time.Minute},
		{name: "revoking again lengthens", revoke: []time.Duration{time.Minute, time.Hour}, want: true, wantTTL: 59 * time.Minute},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id := "jti-" + string(rune('a'+i))
			for _, d := range tt.revoke {
				if err := s.Revoke(ctx, id, now.Add(d)); err != nil {
					t.Fatalf("Revoke: %v", err)
				}
			}
			time.Sleep(tt.wait)
			got, err := s.Check(ctx, revoke.Token{ID: id})
			if err != nil || got != tt.want {
				t.Fatalf("IsRevoked = %v, %v; want %v, nil", got, err, tt.want)
			}
			ttl, err := c.PTTL(ctx, prefix+"revoked:"+id).Result()
			if err != nil {
				t.Fatal(err)
			}
			if !tt.want && ttl != -2*time.Nanosecond {
				t.Errorf("a key is left behind, TTL %v", ttl)
			}
			if tt.want && ttl < tt.wantTTL {
				t.Errorf("TTL = %v, want at least %v", ttl, tt.wantTTL)
			}
		})
	}
}

func TestRevokeRejectsEmptyID(t *testing.T) {
	s := newStore(t, redistest.Open(t), redistest.Prefix(t))
	if err := s.Revoke(ctx, "", time.Now().Add(time.Hour)); !errors.Is(err, revoke.ErrInvalidID) {
		t.Errorf("error = %v, want revoke.ErrInvalidID", err)
	}
}

// TestRevocationIsSharedBetweenInstances revokes through one client and
// checks through two others, as three instances would.
func TestRevocationIsSharedBetweenInstances(t *testing.T) {
	prefix := redistest.Prefix(t)
	a := newStore(t, redistest.Open(t), prefix)
	b := newStore(t, redistest.Open(t), prefix)
	c := newStore(t, redistest.Open(t), prefix)
	if err := a.Revoke(ctx, "shared", time.Now().Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	for _, s := range []*redisrevoke.Store{b, c} {
		if got, err := s.Check(ctx, revoke.Token{ID: "shared"}); err != nil || !got {
			t.Errorf("IsRevoked on another instance = %v, %v; want true", got, err)
		}
	}
	other := newStore(t, redistest.Open(t), redistest.Prefix(t))
	if got, err := other.Check(ctx, revoke.Token{ID: "shared"}); err != nil || got {
		t.Errorf("IsRevoked under another prefix = %v, %v; want false", got, err)
	}
}

func TestOneRoundTripPerCall(t *testing.T) {
	c := redistest.Open(t)
	hook := &redistest.CountingHook{}
	c.AddHook(hook)
	// A new connection's handshake (HELLO, CLIENT SETINFO) passes the hook
	// too; make the connection before counting.
	if err := c.Ping(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	s := newStore(t, c, redistest.Prefix(t))
	calls := []struct {
		name string
		call func() error
	}{
		{"Revoke new", func() error { return s.Revoke(ctx, "x", time.Now().Add(time.Minute)) }},
		{"Revoke existing", func() error { return s.Revoke(ctx, "x", time.Now().Add(time.Hour)) }},
		{"IsRevoked yes", func() error { _, err := s.Check(ctx, revoke.Token{ID: "x"}); return err }},
		{"IsRevoked no", func() error { _, err := s.Check(ctx, revoke.Token{ID: "y"}); return err }},
	}
	for _, tt := range calls {
		before := hook.Count()
		if err := tt.call(); err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if n := hook.Count() - before; n != 1 {
			t.Errorf("%s took %d round trips, want 1", tt.name, n)
		}
	}
}

// TestFailsClosedWhileRedisIsDown stops a private Redis: IsRevoked must
// answer with an error, never (false, nil), and must answer correctly
// again after the restart with the same client.
func TestFailsClosedWhileRedisIsDown(t *testing.T) {
	srv := redistest.StartServer(t)
	c := redistest.OpenURL(t, srv.URL())
	s := newStore(t, c, "warden:")
	exp := time.Now().Add(time.Hour)
	if err := s.Revoke(ctx, "before", exp); err != nil {
		t.Fatal(err)
	}

	srv.Stop()
	for i := range 30 {
		cctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		start := time.Now()
		got, err := s.Check(cctx, revoke.Token{ID: "never-revoked"})
		cancel()
		if err == nil {
			t.Fatalf("check %d while Redis is down: IsRevoked = %v, nil; want an error", i, got)
		}
		if d := time.Since(start); d > 10*time.Second { // a hang, not a slow machine
			t.Errorf("check %d took %v to fail", i, d)
		}
	}
	if err := s.Revoke(ctx, "during", exp); err == nil {
		t.Error("Revoke while Redis is down succeeded")
	}

	srv.Start()
	err := redistest.Eventually(10*time.Second, func() error {
		_, err := s.Check(ctx, revoke.Token{ID: "x"})
		return err
	})
	if err != nil {
		t.Fatalf("IsRevoked after the restart: %v", err)
	}
	// This Redis has no persistence, so "before" is gone: that is why
	// production Redis needs appendonly. Revocations work again.
	if err := s.Revoke(ctx, "after", exp); err != nil {
		t.Fatal(err)
	}
	if got, err := s.Check(ctx, revoke.Token{ID: "after"}); err != nil || !got {
		t.Errorf("IsRevoked after the restart = %v, %v; want true", got, err)
	}
}

// BenchmarkRedisIsRevoked measures one revocation check, a round trip to
// the Redis at WARDEN_TEST_REDIS_URL.
func BenchmarkRedisIsRevoked(b *testing.B) {
	c := redistest.Open(b)
	s := newStore(b, c, redistest.Prefix(b))
	if err := s.Revoke(ctx, "revoked", time.Now().Add(time.Hour)); err != nil {
		b.Fatal(err)
	}
	b.Run("serial", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := s.Check(ctx, revoke.Token{ID: "some-jti"}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := s.Check(ctx, revoke.Token{ID: "some-jti"}); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}

// BenchmarkMemoryIsRevoked is the in-memory store, for the ratio.
func BenchmarkMemoryIsRevoked(b *testing.B) {
	s := revoke.NewMemory(revoke.MemoryOptions{})
	if err := s.Revoke(ctx, "revoked", time.Now().Add(time.Hour)); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Check(ctx, revoke.Token{ID: "some-jti"}); err != nil {
			b.Fatal(err)
		}
	}
}
