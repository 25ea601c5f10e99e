package password_test

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/wardenhq/warden/password"
)

func TestHashWithSaltAndMatchAny(t *testing.T) {
	ctx := context.Background()
	h := testHasher(t, password.Options{})
	salt := bytes.Repeat([]byte{7}, 16)
	other := bytes.Repeat([]byte{9}, 16)

	a, err := h.HashWithSalt(ctx, "first password here", salt)
	if err != nil {
		t.Fatal(err)
	}
	b, err := h.HashWithSalt(ctx, "second password here", salt)
	if err != nil {
		t.Fatal(err)
	}
	again, _ := h.HashWithSalt(ctx, "first password here", salt)
	if again != a {
		t.Fatal("the same password and salt gave two hashes")
	}
	// A salted hash is an ordinary hash: Verify accepts it.
	if ok, _, err := h.Verify(ctx, "second password here", b); err != nil || !ok {
		t.Fatalf("Verify: %v %v", ok, err)
	}
	elsewhere, _ := h.HashWithSalt(ctx, "third password here", other)
	random, _ := h.Hash(ctx, "fourth password here")
	hashes := []string{"not a hash", a, elsewhere, b, random}

	cases := []struct {
		pw   string
		want int
	}{
		{"first password here", 1},
		{"second password here", 3},
		{"third password here", -1},  // another salt never matches
		{"fourth password here", -1}, // nor does a random salt
		{"wrong", -1},
		{"", -1},
	}
	for _, tc := range cases {
		got, err := h.MatchAny(ctx, tc.pw, salt, hashes)
		if err != nil || got != tc.want {
			t.Fatalf("%q: %d %v, want %d", tc.pw, got, err, tc.want)
		}
	}
	// One derivation whatever the list holds, none included.
	for _, list := range [][]string{nil, hashes, {a}} {
		before := h.Stats().Derivations
		if _, err := h.MatchAny(ctx, "first password here", salt, list); err != nil {
			t.Fatal(err)
		}
		if n := h.Stats().Derivations - before; n != 1 {
			t.Fatalf("%d derivations for %d hashes", n, len(list))
		}
	}
	// Salts shorter than the floor for new hashes are refused.
	if _, err := h.HashWithSalt(ctx, "first password here", salt[:8]); err == nil || !strings.Contains(err.Error(), "salt") {
		t.Fatalf("short salt: %v", err)
	}
	if _, err := h.MatchAny(ctx, "first password here", salt[:8], hashes); err == nil {
		t.Fatal("MatchAny took a short salt")
	}
}

func TestDerivationsCountsEveryOperation(t *testing.T) {
	ctx := context.Background()
	h := testHasher(t, password.Options{})
	s, err := h.Hash(ctx, "some password here")
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := h.Verify(ctx, "some password here", s); err != nil {
		t.Fatal(err)
	}
	if err := h.VerifyDummy(ctx, "some password here"); err != nil {
		t.Fatal(err)
	}
	if n := h.Stats().Derivations; n != 3 {
		t.Fatalf("Derivations = %d, want 3", n)
	}
}
