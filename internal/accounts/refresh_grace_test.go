package accounts_test

import (
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wardenhq/warden/internal/storetest"
)

// countRows counts the rows of table, for what no endpoint shows.
func (h *harness) countRows(table, where string, args ...any) int {
	h.t.Helper()
	db := h.svc.DBForTest()
	q := `SELECT COUNT(*) FROM ` + table
	if where != "" {
		q += ` WHERE ` + where
	}
	var n int
	if err := db.QueryRow(db.Rebind(q), args...).Scan(&n); err != nil {
		h.t.Fatal(err)
	}
	return n
}

// TestRefreshGraceNeverForksALogin is API.md's rule for racing tabs: within
// the grace window one refresh token answers 200 with one successor, byte
// for byte, and a single successor row exists; after the window a replay
// ends the whole login, access tokens included.
func TestRefreshGraceNeverForksALogin(t *testing.T) {
	storetest.Each(t, func(t *testing.T, e storetest.Engine) {
		h := newHarness(t, options{engine: e, grace: 5 * time.Second})
		firstAccess, r1 := h.registerVerified("gwen")
		if n := h.countRows("refresh_tokens", ""); n != 1 {
			t.Fatalf("%d refresh tokens after the first login", n)
		}

		const tabs = 20
		var wg sync.WaitGroup
		results := make([]response, tabs)
		for i := range tabs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				results[i] = h.call("POST", "/api/auth/refresh", map[string]string{"refresh": r1}, "")
			}()
		}
		wg.Wait()
		r2 := ""
		var accesses []string
		for i, r := range results {
			if r.Status != 200 {
				t.Fatalf("tab %d: status %d: %s", i, r.Status, r.Raw)
			}
			got := r.Body["refresh"].(string)
			if r2 == "" {
				r2 = got
			}
			if got != r2 {
				t.Fatalf("tab %d got a different successor: the login forked", i)
			}
			accesses = append(accesses, r.Body["access"].(string))
		}
		if r2 == r1 || len(r2) < 43 {
			t.Fatalf("the successor is not a fresh 256-bit token (%d characters)", len(r2))
		}
		if n := h.countRows("refresh_tokens", ""); n != 2 {
			t.Fatalf("%d refresh token rows after %d racing refreshes, want the original and one successor", n, tabs)
		}
		for _, a := range accesses[:3] {
			h.expect(h.call("GET", "/api/auth/me", nil, a), 200)
		}

		// A late tab, still inside the window, gets the same successor too.
		h.clock.Advance(3 * time.Second)
		late := h.expect(h.call("POST", "/api/auth/refresh", map[string]string{"refresh": r1}, ""), 200)
		if late.Body["refresh"] != r2 {
			t.Fatal("a refresh inside the window answered another successor")
		}

		// The successor follows the same rule.
		a := h.expect(h.call("POST", "/api/auth/refresh", map[string]string{"refresh": r2}, ""), 200)
		b := h.expect(h.call("POST", "/api/auth/refresh", map[string]string{"refresh": r2}, ""), 200)
		r3 := a.Body["refresh"].(string)
		if b.Body["refresh"] != r3 || r3 == r2 || r3 == r1 {
			t.Fatal("the successor's successor is not one token")
		}
		if n := h.countRows("refresh_tokens", ""); n != 3 {
			t.Fatalf("%d refresh token rows, want 3", n)
		}
		accesses = append(accesses, late.Body["access"].(string), a.Body["access"].(string), b.Body["access"].(string))

		// Past the window, the first token is a replay: the login ends.
		h.clock.Advance(3 * time.Second)
		h.expect(h.call("POST", "/api/auth/refresh", map[string]string{"refresh": r1}, ""), 401)
		h.expect(h.call("POST", "/api/auth/refresh", map[string]string{"refresh": r3}, ""), 401)
		h.expect(h.call("POST", "/api/auth/refresh", map[string]string{"refresh": r2}, ""), 401)
		h.expect(h.call("GET", "/api/auth/me", nil, firstAccess), 401)
		for _, a := range accesses {
			h.expect(h.call("GET", "/api/auth/me", nil, a), 401)
		}
		logs := h.logs.String()
		if !strings.Contains(logs, `"event":"refresh_token_reuse"`) {
			t.Fatal("reuse not logged as a security event")
		}
		for _, secret := range []string{r1, r2, r3} {
			if strings.Contains(logs, secret) {
				t.Fatal("a refresh token reached the log")
			}
		}
	})
}

// TestRefreshSuccessorsDifferPerLogin checks that the derived successor
// depends on the token: two logins of one user never share a chain.
func TestRefreshSuccessorsDifferPerLogin(t *testing.T) {
	storetest.Each(t, func(t *testing.T, e storetest.Engine) {
		h := newHarness(t, options{engine: e})
		_, r1 := h.registerVerified("hugo")
		other := h.expect(h.login("hugo", goodPassword), 200).Body["refresh"].(string)
		a := h.expect(h.call("POST", "/api/auth/refresh", map[string]string{"refresh": r1}, ""), 200).Body["refresh"]
		b := h.expect(h.call("POST", "/api/auth/refresh", map[string]string{"refresh": other}, ""), 200).Body["refresh"]
		if a == b {
			t.Fatal("two logins got the same successor")
		}
	})
}
