package accounts_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/wardenhq/warden"
	"github.com/wardenhq/warden/internal/accounts"
	"github.com/wardenhq/warden/internal/storetest"
)

func drain(b *testing.B, resp *http.Response, err error, want int) {
	if err != nil {
		b.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != want {
		b.Fatalf("status %d, want %d", resp.StatusCode, want)
	}
}

func BenchmarkMe(b *testing.B) {
	for _, e := range storetest.Engines() {
		b.Run(e.Name, func(b *testing.B) {
			h := newHarness(b, options{engine: e, authPerMin: 1 << 20})
			access, _ := h.registerVerified("bench")
			req, _ := http.NewRequest("GET", h.srv.URL+"/api/auth/me", nil)
			req.Header.Set("Authorization", "Bearer "+access)
			client := h.srv.Client()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					resp, err := client.Do(req.Clone(req.Context()))
					drain(b, resp, err, 200)
				}
			})
		})
	}
}

// BenchmarkMeCookie is BenchmarkMe signed in with the session cookie, the
// revocation list in the database as warden serve keeps it without Redis:
// the session lookup and the session's revocation check run on every
// request besides the account read.
func BenchmarkMeCookie(b *testing.B) {
	for _, e := range storetest.Engines() {
		b.Run(e.Name, func(b *testing.B) {
			h := newHarness(b, options{engine: e, authPerMin: 1 << 20, sqlRevocation: true})
			h.registerVerified("bench")
			r := h.expect(h.call("POST", "/api/auth/login", map[string]string{"username": "bench", "password": goodPassword, "mode": "cookie"}, "",
				"Sec-Fetch-Site", "same-origin", "Origin", h.srv.URL), 200)
			var cookie string
			for _, c := range r.Header.Values("Set-Cookie") {
				if sc, err := http.ParseSetCookie(c); err == nil && sc.Name == accounts.SessionCookie {
					cookie = sc.Name + "=" + sc.Value
				}
			}
			if cookie == "" {
				b.Fatal("no session cookie")
			}
			req, _ := http.NewRequest("GET", h.srv.URL+"/api/auth/me", nil)
			req.Header.Set("Cookie", cookie)
			req.Header.Set("Sec-Fetch-Site", "same-origin")
			client := h.srv.Client()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					resp, err := client.Do(req.Clone(req.Context()))
					drain(b, resp, err, 200)
				}
			})
		})
	}
}

// BenchmarkBareJSON is the baseline for BenchmarkMe: a plain net/http
// handler writing a JSON body of the same size, no pipeline, no database.
func BenchmarkBareJSON(b *testing.B) {
	body, _ := json.Marshal(map[string]any{"id": "4b0a4a3e-6c1e-4b2f-9c8e-0f1b2c3d4e5f", "username": "bench", "email": "bench@example.com",
		"first_name": "", "last_name": "", "is_staff": false, "is_admin": false, "email_verified": true, "permissions": []string{}})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", warden.JSONContentType)
		_, _ = w.Write(body)
	}))
	defer srv.Close()
	client := srv.Client()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			resp, err := client.Get(srv.URL)
			drain(b, resp, err, 200)
		}
	})
}

func BenchmarkRefresh(b *testing.B) {
	for _, e := range storetest.Engines() {
		b.Run(e.Name, func(b *testing.B) {
			h := newHarness(b, options{engine: e, authPerMin: 1 << 20})
			_, refresh := h.registerVerified("bench")
			client := h.srv.Client()
			b.ResetTimer()
			for range b.N {
				resp, err := client.Post(h.srv.URL+"/api/auth/refresh", "application/json", strings.NewReader(`{"refresh":"`+refresh+`"}`))
				if err != nil {
					b.Fatal(err)
				}
				var out map[string]string
				_ = json.NewDecoder(resp.Body).Decode(&out)
				resp.Body.Close()
				if resp.StatusCode != 200 {
					b.Fatalf("status %d", resp.StatusCode)
				}
				refresh = out["refresh"]
			}
		})
	}
}

// BenchmarkLogin is bound by Argon2id: its ns/op is one hash plus the
// session write. The machine's ceiling is cores / one hash time.
func BenchmarkLogin(b *testing.B) {
	h := newHarness(b, options{engine: storetest.Engines()[0], authPerMin: 1 << 20})
	h.registerVerified("bench")
	client := h.srv.Client()
	body := fmt.Sprintf(`{"username":"bench","password":%q}`, goodPassword)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			resp, err := client.Post(h.srv.URL+"/api/auth/login", "application/json", strings.NewReader(body))
			drain(b, resp, err, 200)
		}
	})
}
