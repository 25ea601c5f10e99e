package auth_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/wardenhq/warden/auth"
)

// FuzzSessionCookie sends arbitrary Cookie headers: the backend never
// panics, and authenticates a request only when it carries exactly one
// session cookie whose value is, byte for byte, the one stored.
func FuzzSessionCookie(f *testing.F) {
	store := auth.NewMemorySessionStore(0, nil)
	value, digest, err := auth.NewSessionSecret()
	if err != nil {
		f.Fatal(err)
	}
	now := time.Now()
	if err := store.Add(digest, auth.Session{ID: "s1", UserID: "alice", CreatedAt: now, LastSeenAt: now}); err != nil {
		f.Fatal(err)
	}
	s, err := auth.NewSessions(auth.SessionsConfig{Store: store})
	if err != nil {
		f.Fatal(err)
	}
	name := auth.DefaultSessionCookie
	for _, seed := range []string{
		name + "=" + value,
		name + "=" + value + "; " + name + "=" + value,
		name + `="` + value + `"`,
		name + "=" + strings.ToUpper(value),
		name + "=" + value[:42] + "%41",
		"a=b; " + name + "=" + value + ";",
		name + "=;",
		";;" + name,
		name + "=" + strings.Repeat("x", 5000),
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, header string) {
		req := httptest.NewRequest(http.MethodGet, "/", nil)
		req.Header.Set("Cookie", header)
		id, err := s.Authenticate(req)
		if id == nil {
			return
		}
		if err != nil {
			t.Fatalf("identity and error at once: %v", err)
		}
		cookies := req.CookiesNamed(name)
		if len(cookies) != 1 || cookies[0].Value != value || id.UserID != "alice" {
			t.Fatalf("authenticated %q as %+v", header, id)
		}
	})
}
