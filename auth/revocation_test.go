package auth_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/wardenhq/warden/auth"
	"github.com/wardenhq/warden/revoke"
)

// TestJWTEnforcesEveryRevocationGrain is the library side of "revocation
// reaches every route": any route behind an auth.JWT with a store refuses a
// token whose login was ended or whose holder logged out everywhere, not
// only one whose own id was revoked.
func TestJWTEnforcesEveryRevocationGrain(t *testing.T) {
	ctx := context.Background()
	store := revoke.NewMemory(revoke.MemoryOptions{})
	j := newJWT(t, auth.JWTConfig{Keys: []auth.JWTKey{{Algorithm: "HS256", Secret: hmacSecret}}, Revocation: store})
	srv := server(t, j)
	signer := auth.Signer{Algorithm: "HS256", Key: hmacSecret, Issuer: "warden", Audience: "warden"}
	issue := func(sub, sid string) auth.Token {
		t.Helper()
		tok, err := signer.Sign(sub, map[string]any{"sid": sid})
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	status := func(tok auth.Token) int {
		resp, _ := get(t, srv, "Authorization", "Bearer "+tok.Raw)
		return resp.StatusCode
	}

	ended, other := issue("alice", "login-a"), issue("alice", "login-b")
	for _, tok := range []auth.Token{ended, other} {
		if s := status(tok); s != http.StatusOK {
			t.Fatalf("fresh token: %d", s)
		}
	}
	if err := store.RevokeSession(ctx, "login-a", time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if s := status(ended); s != http.StatusUnauthorized {
		t.Fatalf("token of an ended login: %d, want 401", s)
	}
	if s := status(other); s != http.StatusOK {
		t.Fatalf("token of another login: %d, want 200", s)
	}

	// Log out everywhere, then log in again within the same second: the
	// new token is honoured, every older one is not.
	bob := issue("bob", "login-c")
	if err := store.RevokeUser(ctx, "bob", time.Now(), time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Millisecond)
	again := issue("bob", "login-d")
	if s := status(bob); s != http.StatusUnauthorized {
		t.Fatalf("token issued before logout-all: %d, want 401", s)
	}
	if s := status(again); s != http.StatusOK {
		t.Fatalf("token issued after logout-all, same second: %d, want 200", s)
	}
}
