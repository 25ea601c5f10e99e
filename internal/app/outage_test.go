package app_test

import (
	"context"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/wardenhq/warden/internal/accounts"
	"github.com/wardenhq/warden/internal/storetest"
)

// TestDatabaseOutage takes the database away from a running server through
// a TCP proxy: readiness and requests answer 503 problems without details,
// and both recover by themselves when the database is back.
func TestDatabaseOutage(t *testing.T) {
	storetest.Each(t, func(t *testing.T, e storetest.Engine) {
		if e.Name == "sqlite" {
			t.Skip("an embedded database cannot become unreachable")
		}
		u, err := url.Parse(e.NewURL(t))
		if err != nil {
			t.Fatal(err)
		}
		proxy := storetest.NewProxy(t, u.Host)
		u.Host = proxy.Addr()
		base, a := start(t, map[string]string{"WARDEN_DATABASE_URL": u.String()})
		ctx := context.Background()
		if _, err := a.Accounts().CreateUser(ctx, accounts.RegisterInput{Username: "rita", Email: "rita@example.com", Password: "correct horse battery staple"},
			accounts.CreateOptions{Verified: true}); err != nil {
			t.Fatal(err)
		}
		login := func() (int, map[string]any) {
			status, _, body := call(t, "POST", base+"/api/auth/login", map[string]string{"Content-Type": "application/json"}, `{"username":"rita","password":"correct horse battery staple"}`)
			return status, body
		}
		status, body := login()
		if status != 200 {
			t.Fatalf("login: %d %v", status, body)
		}
		bearer := map[string]string{"Authorization": "Bearer " + body["access"].(string)}

		proxy.Stop()
		if status, _, _ := call(t, "GET", base+"/readyz", nil, ""); status != 503 {
			t.Fatalf("readyz during the outage: %d", status)
		}
		for name, got := range map[string]func() (int, map[string]any){
			"login": login,
			"me": func() (int, map[string]any) {
				status, _, body := call(t, "GET", base+"/api/auth/me", bearer, "")
				return status, body
			},
		} {
			status, body := got()
			if status != 503 {
				t.Fatalf("%s during the outage: %d %v", name, status, body)
			}
			detail := strings.ToLower(body["detail"].(string))
			for _, leak := range []string{"dial", "refused", "127.0.0.1", "sql", "eof"} {
				if strings.Contains(detail, leak) {
					t.Fatalf("%s problem leaks %q: %s", name, leak, detail)
				}
			}
		}

		proxy.Start()
		deadline := time.Now().Add(10 * time.Second)
		for {
			status, _, _ := call(t, "GET", base+"/readyz", nil, "")
			if status == 200 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("readyz still %d after the database returned", status)
			}
			time.Sleep(100 * time.Millisecond)
		}
		if status, _, _ := call(t, "GET", base+"/api/auth/me", bearer, ""); status != 200 {
			t.Fatalf("me after recovery: %d", status)
		}
		if status, _ := login(); status != 200 {
			t.Fatalf("login after recovery: %d", status)
		}
	})
}
