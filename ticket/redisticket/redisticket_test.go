package redisticket_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/wardenhq/warden/internal/redisconn/redistest"
	"github.com/wardenhq/warden/ticket"
	"github.com/wardenhq/warden/ticket/redisticket"
	"github.com/wardenhq/warden/ticket/tickettest"
)

var ctx = context.Background()

// TestStore runs the contract against three clients under one prefix, as
// three instances would.
func TestStore(t *testing.T) {
	redistest.URL(t)
	tickettest.Run(t, func(t *testing.T) []ticket.Store {
		prefix := redistest.Prefix(t)
		var stores []ticket.Store
		for range 3 {
			stores = append(stores, redisticket.New(redistest.Open(t), prefix))
		}
		return stores
	})
}

func TestStoredAsDigests(t *testing.T) {
	c := redistest.Open(t)
	prefix := redistest.Prefix(t)
	s := redisticket.New(c, prefix)
	if err := s.Issue(ctx, "bearer-s3cret-ticket", "v", time.Minute); err != nil {
		t.Fatal(err)
	}
	keys, err := redistest.Keys(ctx, c, prefix)
	if err != nil || len(keys) != 1 {
		t.Fatalf("keys = %q, %v", keys, err)
	}
	sum := sha256.Sum256([]byte("bearer-s3cret-ticket"))
	if want := prefix + "ticket:" + base64.RawURLEncoding.EncodeToString(sum[:16]); keys[0] != want {
		t.Errorf("key %q, want %q", keys[0], want)
	}
	if strings.Contains(keys[0], "s3cret") {
		t.Errorf("key %q shows the ticket", keys[0])
	}
	if ttl := c.PTTL(ctx, keys[0]).Val(); ttl <= 0 || ttl > time.Minute {
		t.Errorf("TTL = %v", ttl)
	}
}

func TestOneRoundTripPerCall(t *testing.T) {
	c := redistest.Open(t)
	hook := &redistest.CountingHook{}
	c.AddHook(hook)
	s := redisticket.New(c, redistest.Prefix(t))
	calls := []struct {
		name string
		call func() error
	}{
		{"Issue", func() error { return s.Issue(ctx, "t1", "v", time.Minute) }},
		{"Redeem", func() error { _, _, err := s.Redeem(ctx, "t1"); return err }},
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

// TestDuringOutage: every call fails while Redis is down, without a
// "not found"-style guess, and works again after the restart with the same
// client.
func TestDuringOutage(t *testing.T) {
	srv := redistest.StartServer(t)
	s := redisticket.New(redistest.OpenURL(t, srv.URL()), "warden:")
	if err := s.Issue(ctx, "tk", "v", time.Minute); err != nil {
		t.Fatal(err)
	}

	srv.Stop()
	if _, ok, err := s.Redeem(ctx, "tk"); err == nil || ok {
		t.Errorf("Redeem with Redis stopped = %v, %v; want an error", ok, err)
	}
	if err := s.Issue(ctx, "tk2", "v", time.Minute); err == nil {
		t.Error("Issue succeeded with Redis stopped")
	}

	srv.Start()
	if err := redistest.Eventually(10*time.Second, func() error {
		return s.Issue(ctx, "tk3", "v", time.Minute)
	}); err != nil {
		t.Fatalf("Issue after the restart: %v", err)
	}
	// Without persistence the ticket is gone: it fails closed.
	if _, ok, err := s.Redeem(ctx, "tk"); err != nil || ok {
		t.Errorf("Redeem after the restart = %v, %v; want not found", ok, err)
	}
}
