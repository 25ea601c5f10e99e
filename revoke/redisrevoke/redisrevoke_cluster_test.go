package redisrevoke_test

import (
	"errors"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/wardenhq/warden/internal/redisconn/redistest"
	"github.com/wardenhq/warden/internal/rediskey"
	"github.com/wardenhq/warden/revoke"
	"github.com/wardenhq/warden/revoke/redisrevoke"
	"github.com/wardenhq/warden/revoke/revoketest"
)

// TestCluster runs the Store on a local Redis Cluster of three masters
// with a replica each, one cluster for every subtest: the contract, the
// key layout, the revocation feed between instances, and, last, a
// failover of the master that holds the list.
func TestCluster(t *testing.T) {
	cl := redistest.Cluster(t, redistest.ClusterOptions{Replicas: 1})

	t.Run("grains", func(t *testing.T) {
		revoketest.Grains(t, newStore(t, cl.Client, cl.Prefix(t)), time.Now)
	})

	t.Run("shared between instances", func(t *testing.T) {
		prefix := cl.Prefix(t)
		a := newStore(t, redistest.OpenURL(t, cl.URL), prefix)
		b := newStore(t, redistest.OpenURL(t, cl.URL), prefix)
		other := newStore(t, cl.Client, cl.Prefix(t))
		if err := a.Revoke(ctx, "shared", time.Now().Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
		if got, err := b.Check(ctx, revoke.Token{ID: "shared"}); err != nil || !got {
			t.Errorf("Check on another instance = %v, %v; want true", got, err)
		}
		if got, err := other.Check(ctx, revoke.Token{ID: "shared"}); err != nil || got {
			t.Errorf("Check under another prefix = %v, %v; want false", got, err)
		}
	})

	// Every key and the channel share the prefix's hash slot, so that the
	// MGET and the MULTI/EXEC are single commands; no key is left outside.
	t.Run("keys share one slot", func(t *testing.T) {
		prefix := cl.Prefix(t)
		s := newStore(t, cl.Client, prefix)
		until := time.Now().Add(time.Hour)
		for _, err := range []error{
			s.Revoke(ctx, "jti-1", until), s.RevokeSession(ctx, "sid-1", until), s.RevokeUser(ctx, "user-1", time.Now(), until),
		} {
			if err != nil {
				t.Fatal(err)
			}
		}
		tag := rediskey.HashTag(prefix)
		keys, err := redistest.Keys(ctx, cl.Client, tag)
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]bool{tag + "revoked:jti-1": true, tag + "revoked-sid:sid-1": true, tag + "user-nbf:user-1": true}
		if len(keys) != len(want) {
			t.Fatalf("keys %q, want %d", keys, len(want))
		}
		slot := cl.Slot(t, tag+"revocations")
		for _, k := range keys {
			if !want[k] {
				t.Errorf("unexpected key %q", k)
			}
			if got := cl.Slot(t, k); got != slot {
				t.Errorf("key %q in slot %d, the channel in %d", k, got, slot)
			}
		}
		if untagged, err := redistest.Keys(ctx, cl.Client, prefix); err != nil || len(untagged) != 0 {
			t.Errorf("keys without the hash tag: %q, %v", untagged, err)
		}
	})

	t.Run("one round trip per call", func(t *testing.T) {
		c := redistest.OpenURL(t, cl.URL)
		hook := &redistest.CountingHook{}
		c.AddHook(hook)
		s := newStore(t, c, cl.Prefix(t))
		calls := []struct {
			name string
			call func() error
		}{
			{"Revoke", func() error { return s.Revoke(ctx, "x", time.Now().Add(time.Minute)) }},
			{"RevokeUser", func() error { return s.RevokeUser(ctx, "u", time.Now(), time.Now().Add(time.Minute)) }},
			{"Check revoked", func() error { _, err := s.Check(ctx, revoke.Token{ID: "x", Session: "s", Subject: "u"}); return err }},
			{"Check not revoked", func() error { _, err := s.Check(ctx, revoke.Token{ID: "y", Session: "s", Subject: "v"}); return err }},
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
	})

	t.Run("a revocation reaches a caching instance", func(t *testing.T) {
		prefix := cl.Prefix(t)
		a := newStore(t, redistest.OpenURL(t, cl.URL), prefix)
		b, hook := countingStore(t, cl.URL, prefix)
		for i, grain := range []string{"token", "session", "user"} {
			tok := revoke.Token{ID: "jti-" + grain, Session: "sid-" + grain, Subject: "user-" + grain, IssuedAt: time.Now().Add(-time.Second)}
			waitCached(t, b, hook, tok)
			until := time.Now().Add(time.Hour)
			err := []func() error{
				func() error { return a.Revoke(ctx, tok.ID, until) },
				func() error { return a.RevokeSession(ctx, tok.Session, until) },
				func() error { return a.RevokeUser(ctx, tok.Subject, time.Now(), until) },
			}[i]()
			if err != nil {
				t.Fatal(err)
			}
			waitRevoked(t, b, tok)
		}
	})

	// Last: the cluster keeps the promoted replica as master afterwards.
	t.Run("failover of the master holding the list", func(t *testing.T) {
		redistest.Failover(t)
		prefix := cl.Prefix(t)
		a := newStore(t, redistest.OpenURL(t, cl.URL), prefix)
		b, hook := countingStore(t, cl.URL, prefix)
		revoked := revoke.Token{ID: "revoked-before", Subject: "u1"}
		if err := a.Revoke(ctx, revoked.ID, time.Now().Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		cl.WaitReplicated(t)
		waitCached(t, b, hook, revoke.Token{ID: "cached", Subject: "u1"})

		cl.KillMasterOf(t, rediskey.HashTag(prefix)+"revocations")
		// During the outage: no wrong answer, ever; and a call that
		// returned before a replica was promoted had no master to ask, so
		// it must have failed.
		outage := 0
		var acknowledged []string
		for i := 0; ; i++ {
			fresh := revoke.Token{ID: "fresh-" + strconv.Itoa(i), Subject: "u1"}
			freshGot, freshErr := b.Check(ctx, fresh)
			oldGot, oldErr := b.Check(ctx, revoked)
			revokeErr := a.Revoke(ctx, "during-"+strconv.Itoa(i), time.Now().Add(time.Hour))
			promoted := cl.Promoted()
			if oldErr == nil && !oldGot {
				t.Fatalf("during the failover a revoked token passed")
			}
			if revokeErr == nil {
				acknowledged = append(acknowledged, "during-"+strconv.Itoa(i))
			}
			if !promoted {
				outage++
				if freshErr == nil || oldErr == nil || revokeErr == nil {
					t.Fatalf("with no master: Check = %v, %v; Check of a revoked token = %v, %v; Revoke: %v; want errors", freshGot, freshErr, oldGot, oldErr, revokeErr)
				}
				continue
			}
			break
		}
		if outage == 0 {
			t.Fatal("the replica was promoted before any call; the outage was not exercised")
		}
		t.Logf("%d rounds of calls failed closed during the outage", outage)
		cl.WaitFailover(t)

		// After the promotion: the client finds the new master by itself,
		// the list survived (it was replicated), and the feed is back.
		err := redistest.Eventually(10*time.Second, func() error {
			_, err := b.Check(ctx, revoke.Token{ID: "probe"})
			return err
		})
		if err != nil {
			t.Fatalf("Check after the failover: %v", err)
		}
		if got, err := b.Check(ctx, revoked); err != nil || !got {
			t.Errorf("a token revoked before the failover: Check = %v, %v; want true", got, err)
		}
		// A revocation acknowledged once the replica was promoted holds.
		for _, id := range acknowledged {
			if got, err := b.Check(ctx, revoke.Token{ID: id}); err != nil || !got {
				t.Errorf("%s, acknowledged during the failover: Check = %v, %v; want true", id, got, err)
			}
		}
		tok := revoke.Token{ID: "after", Subject: "u2", IssuedAt: time.Now().Add(-time.Second)}
		waitCached(t, b, hook, tok)
		if err := a.Revoke(ctx, tok.ID, time.Now().Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		waitRevoked(t, b, tok)
	})
}

// countingStore returns a Store on a client of its own whose round trips
// are counted.
func countingStore(t *testing.T, url, prefix string) (*redisrevoke.Store, *redistest.CountingHook) {
	c := redistest.OpenURL(t, url)
	hook := &redistest.CountingHook{}
	c.AddHook(hook)
	return newStore(t, c, prefix), hook
}

// waitCached checks tok on s until s answers a second check from its
// cache, without a round trip: until its revocation feed is confirmed.
func waitCached(t *testing.T, s *redisrevoke.Store, hook *redistest.CountingHook, tok revoke.Token) {
	t.Helper()
	err := redistest.Eventually(10*time.Second, func() error {
		if _, err := s.Check(ctx, tok); err != nil {
			return err
		}
		before := hook.Count()
		if _, err := s.Check(ctx, tok); err != nil {
			return err
		}
		if hook.Count() != before {
			return errors.New("not cached yet")
		}
		return nil
	})
	if err != nil {
		t.Fatalf("the feed is never confirmed: %v", err)
	}
}

// waitRevoked expects s to refuse tok within revoke.MaxPropagation.
func waitRevoked(t *testing.T, s *redisrevoke.Store, tok revoke.Token) {
	t.Helper()
	start := time.Now()
	err := redistest.Eventually(revoke.MaxPropagation, func() error {
		if r, err := s.Check(ctx, tok); err != nil || !r {
			return fmt.Errorf("still honoured (%v)", err)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("a token revoked %v ago is honoured: %v", time.Since(start), err)
	}
}
