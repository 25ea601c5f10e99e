package checkcache_test

import (
	"testing"
	"time"

	"github.com/wardenhq/warden/revoke/internal/checkcache"
)

type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func TestTrustNeedsAConfirmedFeedAFreshAnswerAndNoRevocationSince(t *testing.T) {
	c := &clock{t: time.Unix(1_700_000_000, 0)}
	cache := checkcache.New(4*time.Second, c.now)

	cache.Remember("a", cache.Begin())
	if cache.Fresh("a") {
		t.Fatal("trusted before the feed was ever confirmed")
	}
	cache.Confirm(c.t.Add(2 * time.Second))
	if cache.Fresh("a") {
		t.Fatal("an answer stored while the feed was unconfirmed survived the confirmation")
	}
	cache.Remember("a", cache.Begin())
	if !cache.Fresh("a") {
		t.Fatal("a fresh answer under a confirmed feed is not trusted")
	}

	// A revocation heard of between Begin and Remember: the answer may
	// predate it, so it is not kept.
	g := cache.Begin()
	cache.Invalidate()
	cache.Remember("b", g)
	if cache.Fresh("b") || cache.Fresh("a") {
		t.Fatal("an answer survived a revocation")
	}

	// The feed's confirmation lapses by itself.
	cache.Remember("c", cache.Begin())
	c.t = c.t.Add(3 * time.Second)
	if cache.Fresh("c") {
		t.Fatal("trusted after the feed's confirmation lapsed")
	}
	// Answers grow old even under a live feed.
	cache.Confirm(c.t.Add(time.Hour))
	cache.Remember("d", cache.Begin())
	c.t = c.t.Add(4 * time.Second)
	if cache.Fresh("d") {
		t.Fatal("trusted an answer older than MaxAge")
	}
	// A lost feed forgets everything at once.
	cache.Remember("e", cache.Begin())
	cache.Lost()
	if cache.Fresh("e") {
		t.Fatal("trusted after the feed was lost")
	}
}
