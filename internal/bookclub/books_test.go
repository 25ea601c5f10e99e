package bookclub_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wardenhq/warden"
	"github.com/wardenhq/warden/internal/accounts"
	"github.com/wardenhq/warden/internal/bookclub"
)

var canAdd = accounts.CreateOptions{Permissions: []string{bookclub.PermAddBook}}

// addBook adds a book as m and returns its id.
func (h *harness) addBook(m *member, title string) int64 {
	h.t.Helper()
	r := h.expect(h.as(m, "POST", "/api/books", map[string]string{"title": title, "author": "Ann Author"}), 201)
	return int64(r.Body["id"].(float64))
}

func bookPath(id int64) string { return "/api/books/" + strconv.FormatInt(id, 10) }

func TestBookRoutesFollowThePermissionRules(t *testing.T) {
	each(t, options{}, func(t *testing.T, h *harness) {
		adder := h.newUser("adder", canAdd)
		other := h.newUser("other", canAdd)
		plain := h.newUser("plain", accounts.CreateOptions{})
		staff := h.newUser("staffer", accounts.CreateOptions{Staff: true})
		var anon *member

		// Adding needs books.add_book: 401 anonymous, 403 without it.
		in := map[string]string{"title": "Dune", "author": "Frank Herbert", "isbn": "978-0-441-17271-9"}
		h.expect(h.as(anon, "POST", "/api/books", in), 401)
		h.expect(h.as(plain, "POST", "/api/books", in), 403)
		h.expect(h.as(staff, "POST", "/api/books", in), 403) // staff may change books, not add them
		r := h.expect(h.as(adder, "POST", "/api/books", in), 201)
		id := int64(r.Body["id"].(float64))
		if r.Body["title"] != "Dune" || r.Body["author"] != "Frank Herbert" || r.Body["isbn"] != "9780441172719" ||
			r.Body["added_by"] != "adder" || r.Body["created_at"] == nil || id < 1 {
			t.Fatalf("created: %s", r.Raw)
		}

		// Reading is for anyone.
		for _, m := range []*member{anon, plain, other} {
			got := h.expect(h.as(m, "GET", bookPath(id), nil), 200)
			if got.Body["title"] != "Dune" || got.Body["added_by"] != "adder" {
				t.Fatalf("read: %s", got.Raw)
			}
		}
		h.expect(h.as(anon, "GET", bookPath(id+1000), nil), 404)

		// Changing: the adder or staff; 403 for other signed-in users,
		// 401 anonymous (before anything else), 404 unknown.
		patch := map[string]string{"title": "Dune Messiah"}
		h.expect(h.as(anon, "PATCH", bookPath(id), patch), 401)
		h.expect(h.as(anon, "PATCH", bookPath(id+1000), patch), 401)
		h.expect(h.as(other, "PATCH", bookPath(id), patch), 403)
		h.expect(h.as(plain, "PATCH", bookPath(id), patch), 403)
		h.expect(h.as(other, "PATCH", bookPath(id+1000), patch), 404)
		if got := h.expect(h.as(adder, "PATCH", bookPath(id), patch), 200); got.Body["title"] != "Dune Messiah" || got.Body["author"] != "Frank Herbert" {
			t.Fatalf("owner's patch: %s", got.Raw)
		}
		if got := h.expect(h.as(staff, "PATCH", bookPath(id), map[string]string{"author": "F. Herbert"}), 200); got.Body["title"] != "Dune Messiah" || got.Body["author"] != "F. Herbert" || got.Body["added_by"] != "adder" {
			t.Fatalf("staff's patch: %s", got.Raw)
		}

		// Deleting: the same rule.
		second := h.addBook(adder, "Children of Dune")
		h.expect(h.as(anon, "DELETE", bookPath(id), nil), 401)
		h.expect(h.as(other, "DELETE", bookPath(id), nil), 403)
		h.expect(h.as(plain, "DELETE", bookPath(id), nil), 403)
		h.expect(h.as(staff, "DELETE", bookPath(id), nil), 204)
		h.expect(h.as(adder, "DELETE", bookPath(second), nil), 204)
		h.expect(h.as(adder, "DELETE", bookPath(second), nil), 404)
		h.expect(h.as(anon, "GET", bookPath(id), nil), 404)

		// Another adder's book is theirs alone.
		theirs := h.addBook(other, "Hyperion")
		h.expect(h.as(adder, "DELETE", bookPath(theirs), nil), 403)
		if got := h.expect(h.as(anon, "GET", "/api/books", nil), 200); got.Body["count"] != 1.0 {
			t.Fatalf("count after deletes: %s", got.Raw)
		}

		// An admin holds every permission (auth.Identity.HasPermission).
		admin := h.newUser("admin", accounts.CreateOptions{Admin: true})
		h.addBook(admin, "Foundation")
	})
}

func TestGrantReachesTokensAtRefresh(t *testing.T) {
	each(t, options{}, func(t *testing.T, h *harness) {
		ctx := context.Background()
		u := h.newUser("reader", accounts.CreateOptions{})
		in := map[string]string{"title": "Dune", "author": "Frank Herbert"}
		h.expect(h.as(u, "POST", "/api/books", in), 403) // new users cannot add books

		if err := h.accounts.GrantPermission(ctx, "READER", bookclub.PermAddBook); err != nil {
			t.Fatal(err)
		}
		// The token in hand was built before the grant.
		h.expect(h.as(u, "POST", "/api/books", in), 403)
		h.refresh(u)
		if perms := claims(t, u.Access)["permissions"]; fmt.Sprint(perms) != "[books.add_book]" {
			t.Fatalf("permissions claim after refresh: %v", perms)
		}
		h.expect(h.as(u, "POST", "/api/books", in), 201)

		// Granting again is harmless; revoking reaches the next login.
		if err := h.accounts.GrantPermission(ctx, "reader", bookclub.PermAddBook); err != nil {
			t.Fatal(err)
		}
		if err := h.accounts.RevokePermission(ctx, "reader", bookclub.PermAddBook); err != nil {
			t.Fatal(err)
		}
		h.login(u)
		h.expect(h.as(u, "POST", "/api/books", in), 403)
		if perms := claims(t, u.Access)["permissions"]; fmt.Sprint(perms) != "[]" {
			t.Fatalf("permissions claim after revoke: %v", perms)
		}

		if err := h.accounts.GrantPermission(ctx, "nobody", bookclub.PermAddBook); !errors.Is(err, accounts.ErrNotFound) {
			t.Fatalf("unknown user: %v", err)
		}
		for _, bad := range []string{"", "books", "Books.add", "books.add book", "books.add,x", "a.b.c", "books.add_book ", strings.Repeat("a", 100) + ".b"} {
			if err := h.accounts.GrantPermission(ctx, "reader", bad); !errors.Is(err, accounts.ErrInvalidPermission) {
				t.Errorf("permission %q: %v", bad, err)
			}
		}

		// Grants that race are all kept: each is a locked read-modify-write.
		var wg sync.WaitGroup
		errs := make(chan error, 8)
		for i := range 8 {
			wg.Go(func() { errs <- h.accounts.GrantPermission(ctx, "reader", fmt.Sprintf("race.p%d", i)) })
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		got, err := h.accounts.UserByUsername(ctx, "reader")
		if err != nil {
			t.Fatal(err)
		}
		if len(got.Permissions) != 8 {
			t.Fatalf("after racing grants: %v", got.Permissions)
		}
	})
}

// claims decodes a JWT's payload without checking it (the server did).
func claims(t *testing.T, token string) map[string]any {
	t.Helper()
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %q", token)
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var c map[string]any
	if err := json.Unmarshal(raw, &c); err != nil {
		t.Fatal(err)
	}
	return c
}

func TestDirectoryLookups(t *testing.T) {
	each(t, options{}, func(t *testing.T, h *harness) {
		ctx := context.Background()
		a := h.newUser("alice", accounts.CreateOptions{})
		b := h.newUser("bob", accounts.CreateOptions{})
		got, err := h.accounts.UserByUsername(ctx, "Alice")
		if err != nil || got.ID != a.ID {
			t.Fatalf("UserByUsername: %v %v", got, err)
		}
		for _, name := range []string{"carol", "", strings.Repeat("a", 151), "alice' OR '1'='1"} {
			if _, err := h.accounts.UserByUsername(ctx, name); !errors.Is(err, accounts.ErrNotFound) {
				t.Errorf("UserByUsername(%q): %v", name, err)
			}
		}
		names, err := h.accounts.Usernames(ctx, []string{a.ID, b.ID, a.ID, "no-such-id"})
		if err != nil {
			t.Fatal(err)
		}
		if len(names) != 2 || names[a.ID] != "alice" || names[b.ID] != "bob" {
			t.Fatalf("Usernames: %v", names)
		}
		if names, err := h.accounts.Usernames(ctx, nil); err != nil || len(names) != 0 {
			t.Fatalf("Usernames(nil): %v %v", names, err)
		}
	})
}

func TestBookInputIsChecked(t *testing.T) {
	each(t, options{}, func(t *testing.T, h *harness) {
		adder := h.newUser("adder", canAdd)
		post := func(body any) response { return h.as(adder, "POST", "/api/books", body) }
		field := func(r response, name string) {
			t.Helper()
			h.expect(r, 400)
			if fields, _ := r.Body["fields"].(map[string]any); fields[name] == nil {
				t.Fatalf("no fields.%s: %s", name, r.Raw)
			}
		}

		field(post(map[string]any{"title": strings.Repeat("t", 201), "author": "A"}), "title")
		field(post(map[string]any{"title": "T", "author": strings.Repeat("é", 201)}), "author")
		h.expect(post(map[string]any{"title": strings.Repeat("é", 200), "author": strings.Repeat("a", 200)}), 201)
		field(post(map[string]any{"title": "   ", "author": "A"}), "title")
		field(post(map[string]any{"author": "A"}), "title")
		field(post(map[string]any{"title": "a\x00b", "author": "A"}), "title")
		field(post(map[string]any{"title": "line\nbreak", "author": "A"}), "title")
		field(post(map[string]any{"title": 5, "author": "A"}), "title")
		field(post(map[string]any{"title": "T", "author": []string{"A"}}), "author")
		field(post(map[string]any{"title": "T", "author": "A", "isbn": "12345"}), "isbn")
		field(post(map[string]any{"title": "T", "author": "A", "isbn": "978044117271X"}), "isbn")
		field(post(map[string]any{"title": "T", "author": "A", "isbn": "0-441-1727x-9"}), "isbn")
		h.expect(post(`[1,2]`), 400)
		h.expect(post(`{"title": "T", "author": "A"`), 400)
		h.expect(post(`{"title": "T", "title": "U", "author": "A"}`), 400)
		h.expect(post(nil), 415) // no body, no Content-Type
		h.expect(h.call("POST", "/api/books", `{"title":"T","author":"A"}`, adder.Access, "Content-Type", "text/plain"), 415)
		h.expect(post(map[string]any{"title": strings.Repeat("t", 10<<10), "author": "A"}), 413)

		// Members the server owns are ignored, never applied.
		r := h.expect(post(map[string]any{"title": "T", "author": "A", "isbn": "0-441-17271-x", "id": 999999, "added_by": "someone", "created_at": "1999-01-01T00:00:00Z", "is_staff": true}), 201)
		if r.Body["id"] == 999999.0 || r.Body["added_by"] != "adder" || strings.HasPrefix(r.Body["created_at"].(string), "1999") || r.Body["isbn"] != "044117271X" {
			t.Fatalf("server-owned members applied: %s", r.Raw)
		}
		id := int64(r.Body["id"].(float64))
		got := h.expect(h.as(adder, "PATCH", bookPath(id), map[string]any{"added_by": "someone", "id": 1, "isbn": ""}), 200)
		if got.Body["added_by"] != "adder" || got.Body["id"] != float64(id) || got.Body["isbn"] != "" || got.Body["title"] != "T" {
			t.Fatalf("PATCH applied server-owned members: %s", got.Raw)
		}
		field(h.as(adder, "PATCH", bookPath(id), map[string]any{"title": ""}), "title")
		field(h.as(adder, "PATCH", bookPath(id), map[string]any{"title": 7}), "title")
		h.expect(h.as(adder, "PATCH", bookPath(id), map[string]any{}), 200)
		h.expect(h.as(adder, "PATCH", bookPath(id), map[string]any{"title": nil}), 200)

		// SQL-ish text is text.
		for _, s := range []string{"Robert'); DROP TABLE books;--", `" OR 1=1 --`, "%_\\", "?", "$1", "<script>alert(1)</script>"} {
			r := h.expect(post(map[string]any{"title": s, "author": s}), 201)
			got := h.expect(h.as(nil, "GET", bookPath(int64(r.Body["id"].(float64))), nil), 200)
			if got.Body["title"] != s || got.Body["author"] != s {
				t.Fatalf("stored %q as %s", s, got.Raw)
			}
		}
		if got := h.expect(h.as(nil, "GET", "/api/books", nil), 200); got.Body["count"] != 8.0 {
			t.Fatalf("count: %s", got.Raw)
		}

		// Ids that name no book, whatever they look like.
		for _, p := range []string{"0", "-1", "01", "+1", "1.0", "abc", "9223372036854775807", "9223372036854775808", "99999999999999999999", "1%20OR%201=1", "1;DROP%20TABLE%20books"} {
			h.expect(h.as(nil, "GET", "/api/books/"+p, nil), 404)
			h.expect(h.as(adder, "PATCH", "/api/books/"+p, map[string]string{"title": "x"}), 404)
			h.expect(h.as(adder, "DELETE", "/api/books/"+p, nil), 404)
		}
	})
}

func TestBookListPages(t *testing.T) {
	each(t, options{}, func(t *testing.T, h *harness) {
		adder := h.newUser("adder", canAdd)
		var ids []int64
		for i := range 45 {
			ids = append(ids, h.addBook(adder, fmt.Sprintf("Book %02d", i)))
		}
		list := func(query string) response {
			t.Helper()
			return h.as(nil, "GET", "/api/books"+query, nil)
		}
		results := func(r response) []int64 {
			t.Helper()
			var out []int64
			for _, v := range r.Body["results"].([]any) {
				out = append(out, int64(v.(map[string]any)["id"].(float64)))
			}
			return out
		}

		first := h.expect(list(""), 200)
		if first.Body["count"] != 45.0 || first.Body["page"] != 1.0 || first.Body["page_size"] != 20.0 || first.Body["next"] == nil {
			t.Fatalf("first page: %s", first.Raw)
		}
		if got := results(first); len(got) != 20 || got[0] != ids[44] || got[19] != ids[25] {
			t.Fatalf("first page not newest first: %v", got)
		}
		if b := first.Body["results"].([]any)[0].(map[string]any); b["added_by"] != "adder" || b["title"] != "Book 44" {
			t.Fatalf("a result: %v", b)
		}

		// A book added meanwhile does not shift the pages a cursor walks.
		h.addBook(adder, "Late")
		seen := map[int64]bool{}
		for _, id := range results(first) {
			seen[id] = true
		}
		next := first.Body["next"]
		for page := 2; next != nil; page++ {
			r := h.expect(list("?cursor="+next.(string)), 200)
			if r.Body["page"] != float64(page) || r.Body["page_size"] != 20.0 || r.Body["count"] != 46.0 {
				t.Fatalf("page %d: %s", page, r.Raw)
			}
			for _, id := range results(r) {
				if seen[id] {
					t.Fatalf("book %d twice", id)
				}
				seen[id] = true
			}
			next = r.Body["next"]
		}
		if len(seen) != 45 {
			t.Fatalf("the cursor walk saw %d books, want 45", len(seen))
		}

		// By number.
		if r := h.expect(list("?page=3&page_size=20"), 200); len(results(r)) != 6 || r.Body["next"] != nil {
			t.Fatalf("page 3: %s", r.Raw)
		}
		if r := h.expect(list("?page=4"), 200); len(results(r)) != 0 || r.Body["next"] != nil || r.Body["count"] != 46.0 {
			t.Fatalf("past the end: %s", r.Raw)
		}
		if r := h.expect(list("?page_size=100000"), 200); r.Body["page_size"] != 100.0 || len(results(r)) != 46 || r.Body["next"] != nil {
			t.Fatalf("clamped page: %s", r.Raw)
		}
		if r := h.expect(list("?page_size=5&page=2"), 200); len(results(r)) != 5 || results(r)[0] != ids[40] {
			t.Fatalf("page 2 of 5: %v", results(r))
		}

		bad := func(query, field string) {
			t.Helper()
			r := h.expect(list(query), 400)
			if fields, _ := r.Body["fields"].(map[string]any); fields[field] == nil {
				t.Fatalf("%s: no fields.%s: %s", query, field, r.Raw)
			}
		}
		bad("?page=-1", "page")
		bad("?page=0", "page")
		bad("?page=abc", "page")
		bad("?page=99999999999999999999", "page")
		bad("?page_size=0", "page_size")
		bad("?page_size=-5", "page_size")
		bad("?page_size=1e3", "page_size")

		// Cursors are checked: tampered, foreign or mixed with page.
		cur := first.Body["next"].(string)
		bad("?cursor="+cur+"&page=2", "cursor")
		bad("?cursor=!!!", "cursor")
		bad("?cursor="+strings.Repeat("A", 600), "cursor")
		bad("?cursor="+cur[:len(cur)-3], "cursor")
		raw, _ := base64.RawURLEncoding.DecodeString(cur)
		var w map[string]any
		if err := json.Unmarshal(raw, &w); err != nil {
			t.Fatalf("cursor %q: %v", raw, err)
		}
		forge := func(change func(map[string]any)) string {
			c := map[string]any{}
			for k, v := range w {
				c[k] = v
			}
			change(c)
			b, _ := json.Marshal(c)
			return base64.RawURLEncoding.EncodeToString(b)
		}
		bad("?cursor="+forge(func(c map[string]any) { c["o"] = "000000000000" }), "cursor")
		bad("?cursor="+forge(func(c map[string]any) { c["k"] = []any{"1 OR 1=1"} }), "cursor")
		bad("?cursor="+forge(func(c map[string]any) { c["k"] = []any{1.5} }), "cursor")
		bad("?cursor="+forge(func(c map[string]any) { c["s"] = 100000 }), "cursor")
		bad("?cursor="+forge(func(c map[string]any) { c["p"] = -1 }), "cursor")
		bad("?cursor="+forge(func(c map[string]any) { c["x"] = 1 }), "cursor")
	})
}

func TestBookRoutesAreDocumented(t *testing.T) {
	h := newHarness(t, sqliteEngine(), options{})
	want := map[string]bool{"GET /api/books": true, "POST /api/books": true, "GET /api/books/{id}": true, "PATCH /api/books/{id}": true, "DELETE /api/books/{id}": true}
	for _, ri := range h.router.Routes() {
		key := ri.Method + " " + ri.Pattern
		if !want[key] {
			continue
		}
		delete(want, key)
		if ri.Operation == nil || len(ri.Auth) != 1 {
			t.Errorf("%s: %+v", key, ri)
		}
		if public := ri.Method == "GET"; ri.Public != public {
			t.Errorf("%s: public %v", key, ri.Public)
		}
	}
	if len(want) > 0 {
		t.Fatalf("routes missing: %v", want)
	}
}

// The first page is answered again while the books have not changed: a
// write through another instance (another service on the same database)
// shows on the next request all the same.
func TestFirstPageFollowsWritesOfOtherInstances(t *testing.T) {
	each(t, options{}, func(t *testing.T, h *harness) {
		adder := h.newUser("adder", canAdd)
		other, err := bookclub.New(bookclub.Config{DB: h.db, Accounts: h.accounts, Bearer: h.accounts.Authenticator(), Now: h.clock.Now})
		if err != nil {
			t.Fatal(err)
		}
		r, err := warden.NewRouter(warden.Config{Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			t.Fatal(err)
		}
		if err := other.Mount(r); err != nil {
			t.Fatal(err)
		}
		srv := httptest.NewServer(r)
		t.Cleanup(srv.Close)
		h2 := &harness{t: t, srv: srv}

		titles := func() []string {
			t.Helper()
			var out []string
			for _, v := range h.expect(h.as(nil, "GET", "/api/books", nil), 200).Body["results"].([]any) {
				out = append(out, v.(map[string]any)["title"].(string))
			}
			return out
		}
		h.addBook(adder, "One")
		if got := titles(); !slices.Equal(got, []string{"One"}) {
			t.Fatalf("first page: %v", got)
		}
		id := h2.addBook(adder, "Two")
		if got := titles(); !slices.Equal(got, []string{"Two", "One"}) {
			t.Fatalf("after an insert elsewhere: %v", got)
		}
		h2.expect(h2.as(adder, "PATCH", bookPath(id), map[string]string{"title": "Deux"}), 200)
		if got := titles(); !slices.Equal(got, []string{"Deux", "One"}) {
			t.Fatalf("after a change elsewhere: %v", got)
		}
		h2.expect(h2.as(adder, "DELETE", bookPath(id), nil), 204)
		if got := titles(); !slices.Equal(got, []string{"One"}) {
			t.Fatalf("after a delete elsewhere: %v", got)
		}
		// A change behind the service's back (SQL by hand) shows once
		// the page has aged out.
		if _, err := h.db.Exec(`UPDATE books SET title = 'Uno'`); err != nil {
			t.Fatal(err)
		}
		if got := titles(); !slices.Equal(got, []string{"One"}) {
			t.Fatalf("the first page was rendered again without a write: %v", got)
		}
		h.clock.Advance(2 * time.Minute)
		if got := titles(); !slices.Equal(got, []string{"Uno"}) {
			t.Fatalf("after a change by hand: %v", got)
		}
	})
}

// Writes are limited per user on top of the router-wide throttle: a
// holder of books.add_book may add books, not flood the catalogue.
func TestBookWritesAreLimitedPerUser(t *testing.T) {
	h := newHarness(t, sqliteEngine(), options{})
	adder := h.newUser("adder", canAdd)
	other := h.newUser("other", canAdd)
	for i := range 60 {
		h.expect(h.as(adder, "POST", "/api/books", map[string]string{"title": fmt.Sprint("Book ", i), "author": "A"}), 201)
	}
	r := h.expect(h.as(adder, "POST", "/api/books", map[string]string{"title": "One too many", "author": "A"}), 429)
	if r.Header.Get("Retry-After") == "" {
		t.Fatalf("no Retry-After: %v", r.Header)
	}
	h.expect(h.as(adder, "DELETE", bookPath(1), nil), 429)
	h.expect(h.as(adder, "GET", bookPath(1), nil), 200) // reading is not writing
	h.addBook(other, "Someone else's")
}
