package accounts_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/wardenhq/warden/internal/accounts"
	"github.com/wardenhq/warden/internal/storetest"
)

// usernameRefused registers name and returns the fields.username messages
// of the 400 that must answer it.
func (h *harness) usernameRefused(name, email string) string {
	h.t.Helper()
	r := h.expect(h.call("POST", "/api/auth/register", map[string]string{"username": name, "email": email, "password": goodPassword}, ""), 400)
	fields, _ := r.Body["fields"].(map[string]any)
	msgs, _ := fields["username"].([]any)
	if len(msgs) == 0 {
		h.t.Fatalf("%q: no fields.username in %s", name, r.Raw)
	}
	var out []string
	for _, m := range msgs {
		out = append(out, m.(string))
	}
	return strings.Join(out, " ")
}

// TestUsernamesCannotImpersonate registers alice and then look-alikes of
// her name: each is refused with fields.username, and a name that only
// normalisation tells apart is reported as taken.
func TestUsernamesCannotImpersonate(t *testing.T) {
	storetest.Each(t, func(t *testing.T, e storetest.Engine) {
		h := newHarness(t, options{engine: e})
		h.expect(h.call("POST", "/api/auth/register", map[string]string{"username": "alice", "email": "alice@example.com", "password": goodPassword}, ""), 201)

		taken := []struct{ name, username string }{
			{"upper case", "Alice"},
			{"fullwidth", "ａｌｉｃｅ"},
			{"fullwidth capitals", "ＡＬＩＣＥ"},
			{"mathematical bold", "𝐚𝐥𝐢𝐜𝐞"},
			{"circled", "ⓐⓛⓘⓒⓔ"},
		}
		// (No subtests: the harness reports through the parent test.)
		for i, tc := range taken {
			msg := h.usernameRefused(tc.username, "t"+string(rune('a'+i))+"@example.com")
			if !strings.Contains(msg, "already exists") {
				t.Fatalf("%s %q: %q", tc.name, tc.username, msg)
			}
		}

		refused := []struct{ name, username, want string }{
			{"Cyrillic a", "аlice", "letters"},
			{"all Cyrillic look-alike", "сорра", "letters"},
			{"Greek omicron", "bοb", "letters"},
			{"zero-width space", "al\u200bice", "letters"},
			{"combining mark", "alice\u0301", "letters"},
			{"email address", "alice@example.com", "email"},
			{"at sign", "bob@home", "email"},
			{"plus", "bob+x", "letters"},
			{"space", "bob smith", "letters"},
			{"too short after normalisation", "ａｂ", "3 to 150"},
		}
		for i, tc := range refused {
			msg := h.usernameRefused(tc.username, "r"+string(rune('a'+i))+"@example.com")
			if !strings.Contains(msg, tc.want) {
				t.Fatalf("%s %q: %q, want it to mention %q", tc.name, tc.username, msg, tc.want)
			}
		}

		// A name that only normalisation changes is stored in its
		// normalised form, and is then taken in every spelling.
		r := h.expect(h.call("POST", "/api/auth/register", map[string]string{"username": "ｂｅｎ", "email": "ben@example.com", "password": goodPassword}, ""), 201)
		if got := r.Body["user"].(map[string]any)["username"]; got != "ben" {
			t.Fatalf("stored username %q, want the normalised ben", got)
		}
		h.usernameRefused("BEN", "ben2@example.com")

		// Ordinary names keep working.
		for i, name := range []string{"carol2", "d.e-f_g", "Zoe_99", "x_y"} {
			h.expect(h.call("POST", "/api/auth/register", map[string]string{"username": name, "email": "ok" + string(rune('a'+i)) + "@example.com", "password": goodPassword}, ""), 201)
		}
	})
}

// TestOperatorCreatedUsersFollowTheSameRule covers warden user create.
func TestOperatorCreatedUsersFollowTheSameRule(t *testing.T) {
	storetest.Each(t, func(t *testing.T, e storetest.Engine) {
		h := newHarness(t, options{engine: e})
		ctx := context.Background()
		if _, err := h.svc.CreateUser(ctx, accounts.RegisterInput{Username: "admin", Email: "admin@example.com", Password: goodPassword}, accounts.CreateOptions{Verified: true}); err != nil {
			t.Fatal(err)
		}
		for _, name := range []string{"аdmin", "ＡＤＭＩＮ", "admin@example.com"} {
			_, err := h.svc.CreateUser(ctx, accounts.RegisterInput{Username: name, Email: "x@example.com", Password: goodPassword}, accounts.CreateOptions{})
			var verr *accounts.ValidationError
			refused := errors.As(err, &verr) && len(verr.Fields["username"]) > 0
			if !refused && !errors.Is(err, accounts.ErrUsernameTaken) {
				t.Fatalf("%q: %v", name, err)
			}
		}
	})
}

// TestExistingUsernamesAreKeyed stands in for a database upgraded from
// before the rule: rows without a normalised key (as migration 00004 leaves
// them) get one at the next Migrate, the older of two look-alikes keeps
// it, and every spelling of an old name is then taken.
func TestExistingUsernamesAreKeyed(t *testing.T) {
	storetest.Each(t, func(t *testing.T, e storetest.Engine) {
		h := newHarness(t, options{engine: e})
		db := h.svc.DBForTest()
		legacy := func(id, name string, created int64) {
			t.Helper()
			_, err := db.Exec(db.Rebind(`INSERT INTO users (id, username, username_key, email, email_key, password_hash, permissions, created_at, updated_at)
				VALUES (?, ?, ?, ?, ?, '', '', ?, ?)`), id, name, strings.ToLower(name), id+"@example.com", id+"@example.com", created, created)
			if err != nil {
				t.Fatal(err)
			}
		}
		legacy("old-1", "cat", 1)
		legacy("old-2", "ｃａｔ", 2) // a look-alike registered before the rule
		legacy("old-3", "Ｄｏｇ", 3)
		if err := accounts.Migrate(context.Background(), db); err != nil {
			t.Fatal(err)
		}
		want := map[string]string{"old-1": "cat", "old-2": "#old-2", "old-3": "dog"}
		for id, k := range want {
			var got string
			if err := db.QueryRow(db.Rebind(`SELECT username_norm FROM users WHERE id = ?`), id).Scan(&got); err != nil || got != k {
				t.Fatalf("%s: key %q (%v), want %q", id, got, err, k)
			}
		}
		if n := h.countRows("users", "username_norm IS NULL"); n != 0 {
			t.Fatalf("%d users without a key", n)
		}
		for i, name := range []string{"CAT", "ｃａｔ", "dog", "DOG"} {
			msg := h.usernameRefused(name, "n"+string(rune('a'+i))+"@example.com")
			if !strings.Contains(msg, "already exists") {
				t.Fatalf("%q: %q", name, msg)
			}
		}
		// Running it again finds nothing to do.
		if err := accounts.Migrate(context.Background(), db); err != nil {
			t.Fatal(err)
		}
	})
}
