package checkcache_test

import (
	"testing"
	"time"

	"github.com/wardenhq/warden/revoke"
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

func TestKeyCoversEveryFieldOfASessionAndKeepsTheKindsApart(t *testing.T) {
	iat := time.Unix(1_700_000_000, 123)
	base := revoke.Token{Session: "s1", Subject: "u1", IssuedAt: iat}
	k, ok := checkcache.Key(base)
	if !ok {
		t.Fatal("a session credential is not cached")
	}
	variants := []revoke.Token{
		{Session: "s2", Subject: "u1", IssuedAt: iat},
		{Session: "s1", Subject: "u2", IssuedAt: iat},
		{Session: "s1", Subject: "u1", IssuedAt: iat.Add(1)},
		{Session: "s1", Subject: "u1"},
		// Moving bytes between the session and the subject must not
		// land on the same key.
		{Session: "s1u", Subject: "1", IssuedAt: iat},
		{Session: "s", Subject: "1u1", IssuedAt: iat},
	}
	seen := map[string]revoke.Token{k: base}
	for _, v := range variants {
		kv, ok := checkcache.Key(v)
		if !ok {
			t.Fatalf("%+v is not cached", v)
		}
		if prev, dup := seen[kv]; dup {
			t.Fatalf("%+v and %+v share a key", v, prev)
		}
		seen[kv] = v
	}
	if again, _ := checkcache.Key(base); again != k {
		t.Fatal("the key of one credential changed")
	}
	// A token is keyed by its id; an id that could pass for a session's
	// key is never cached, and neither is a credential with neither.
	if kt, ok := checkcache.Key(revoke.Token{ID: "jti", Session: "s1", Subject: "u1", IssuedAt: iat}); !ok || kt != "jti" {
		t.Fatalf("token key %q, %v", kt, ok)
	}
	if _, ok := checkcache.Key(revoke.Token{ID: k, Session: "s1", Subject: "u1", IssuedAt: iat}); ok {
		t.Fatal("a token whose id looks like a session's key is cached")
	}
	if _, ok := checkcache.Key(revoke.Token{Subject: "u1", IssuedAt: iat}); ok {
		t.Fatal("a credential without id or login is cached")
	}
}
