package bookclub_test

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/wardenhq/warden/internal/accounts"
)

// Helpers of the social tests, on top of the shared harness.

func userPath(name string, rest ...string) string {
	return "/api/users/" + url.PathEscape(name) + strings.Join(rest, "")
}

func reviewPath(id int64) string { return "/api/reviews/" + strconv.FormatInt(id, 10) }

// setVisibility makes m's profile vis.
func (h *harness) setVisibility(m *member, vis string) {
	h.t.Helper()
	h.expect(h.as(m, "PATCH", "/api/users/me", map[string]string{"visibility": vis}), 200)
}

// usernamesOf returns the results of a list of usernames.
func usernamesOf(t *testing.T, r response) []string {
	t.Helper()
	raw, ok := r.Body["results"].([]any)
	if !ok {
		t.Fatalf("no results: %s", r.Raw)
	}
	out := make([]string, len(raw))
	for i, v := range raw {
		out[i], _ = v.(string)
	}
	return out
}

// listsExactly checks a list of usernames: its results and its count.
func listsExactly(t *testing.T, r response, want ...string) {
	t.Helper()
	got := usernamesOf(t, r)
	if !slices.Equal(got, want) || r.Body["count"] != float64(len(want)) {
		t.Fatalf("list %v (count %v), want %v: %s", got, r.Body["count"], want, r.Raw)
	}
}

// expectFields fails unless r is a 400 naming every one of fields.
func (h *harness) expectFields(r response, fields ...string) {
	h.t.Helper()
	h.expect(r, 400)
	got, _ := r.Body["fields"].(map[string]any)
	for _, f := range fields {
		if _, ok := got[f]; !ok {
			h.t.Fatalf("fields %v lack %q: %s", got, f, r.Raw)
		}
	}
}

// sameAnswer fails unless a and b cannot be told apart: status, body and
// every header but the ones that differ per response anyway (the date,
// the request id, and the remaining quota, which counts every request).
func sameAnswer(t *testing.T, what string, a, b response) {
	t.Helper()
	if a.Status != b.Status || a.Raw != b.Raw {
		t.Fatalf("%s: %d %s versus %d %s", what, a.Status, a.Raw, b.Status, b.Raw)
	}
	keys := map[string]bool{}
	for k := range a.Header {
		keys[k] = true
	}
	for k := range b.Header {
		keys[k] = true
	}
	for k := range keys {
		if k == "Date" || k == "X-Request-Id" || k == "Ratelimit" {
			continue
		}
		if !slices.Equal(a.Header[k], b.Header[k]) {
			t.Fatalf("%s: header %s: %q versus %q", what, k, a.Header[k], b.Header[k])
		}
	}
}

// review posts a review of book as m and returns its id.
func (h *harness) review(m *member, book int64, title string, public bool) int64 {
	h.t.Helper()
	r := h.expect(h.as(m, "POST", "/api/reviews", map[string]any{
		"book_id": book, "title": title, "review_text": "<p>" + title + "</p>", "rating": 4, "is_public": public,
	}), 201)
	return int64(r.Body["id"].(float64))
}

// reviewIDs returns the ids of a list of reviews, in order.
func reviewIDs(t *testing.T, r response) []int64 {
	t.Helper()
	raw, ok := r.Body["results"].([]any)
	if !ok {
		t.Fatalf("no results: %s", r.Raw)
	}
	out := make([]int64, len(raw))
	for i, v := range raw {
		out[i] = int64(v.(map[string]any)["id"].(float64))
	}
	return out
}

func TestProfileVisibilityRules(t *testing.T) {
	each(t, options{}, func(t *testing.T, h *harness) {
		owner := h.newUser("alice", accounts.CreateOptions{})
		follower := h.newUser("bob", accounts.CreateOptions{})
		requester := h.newUser("carol", accounts.CreateOptions{})
		stranger := h.newUser("dave", accounts.CreateOptions{})
		staff := h.newUser("sid", accounts.CreateOptions{Staff: true})
		admin := h.newUser("ada", accounts.CreateOptions{Admin: true})
		var anon *member
		everyone := []*member{anon, owner, follower, requester, stranger, staff, admin}

		// A user who never touched the profile has the defaults: public.
		for _, m := range everyone {
			r := h.expect(h.as(m, "GET", userPath("alice"), nil), 200)
			if r.Body["username"] != "alice" || r.Body["bio"] != "" || r.Body["visibility"] != "public" ||
				r.Body["followers"] != float64(0) || r.Body["following"] != float64(0) {
				t.Fatalf("default profile: %s", r.Raw)
			}
			if v, ok := r.Body["avatar_url"]; !ok || v != nil {
				t.Fatalf("avatar_url must be null: %s", r.Raw)
			}
			// Names and preferences are the owner's alone.
			if _, ok := r.Body["first_name"]; ok != (m == owner) {
				t.Fatalf("first_name shown to %v: %s", m, r.Raw)
			}
		}
		h.expect(h.as(follower, "POST", userPath("alice", "/follow"), nil), 204)
		h.setVisibility(owner, "followers_only")
		h.expect(h.as(requester, "POST", userPath("alice", "/follow"), nil), 202)

		// followers_only: approved followers and the owner; a pending
		// requester, a stranger, staff, an admin and anonymous callers
		// get the answer of an unknown user.
		unknown := h.as(stranger, "GET", userPath("nobody"), nil)
		h.expect(unknown, 404)
		for _, m := range []*member{anon, requester, stranger, staff, admin} {
			r := h.as(m, "GET", userPath("alice"), nil)
			sameAnswer(t, "hidden profile", r, h.as(m, "GET", userPath("nobody"), nil))
			sameAnswer(t, "hidden profile, across callers", r, unknown)
			for _, list := range []string{"/followers", "/following"} {
				sameAnswer(t, "hidden list", h.as(m, "GET", userPath("alice", list), nil), h.as(m, "GET", userPath("nobody", list), nil))
			}
		}
		for _, m := range []*member{follower, owner} {
			r := h.expect(h.as(m, "GET", userPath("alice"), nil), 200)
			if r.Body["visibility"] != "followers_only" || r.Body["followers"] != float64(1) {
				t.Fatalf("visible profile: %s", r.Raw)
			}
			listsExactly(t, h.expect(h.as(m, "GET", userPath("alice", "/followers"), nil), 200), "bob")
		}
		// The pending request is not counted.
		if r := h.as(owner, "GET", userPath("me"), nil); r.Body["followers"] != float64(1) || r.Body["username"] != "alice" {
			t.Fatalf("own profile by me: %s", r.Raw)
		}

		// private: the owner only. Followers are kept, and see nothing.
		h.setVisibility(owner, "private")
		for _, m := range []*member{anon, follower, requester, stranger, staff, admin} {
			sameAnswer(t, "private profile", h.as(m, "GET", userPath("alice"), nil), h.as(m, "GET", userPath("nobody"), nil))
			sameAnswer(t, "private list", h.as(m, "GET", userPath("alice", "/followers"), nil), h.as(m, "GET", userPath("nobody", "/followers"), nil))
		}
		listsExactly(t, h.expect(h.as(owner, "GET", userPath("alice", "/followers"), nil), 200), "bob")
		// Nobody can follow a private user, nor tell it from an unknown one.
		sameAnswer(t, "follow private", h.as(stranger, "POST", userPath("alice", "/follow"), nil), h.as(stranger, "POST", userPath("nobody", "/follow"), nil))
		sameAnswer(t, "unfollow private", h.as(stranger, "DELETE", userPath("alice", "/follow"), nil), h.as(stranger, "DELETE", userPath("nobody", "/follow"), nil))
		h.expect(h.as(stranger, "POST", userPath("alice", "/follow"), nil), 404)
		// Back to followers_only: what the owner approved is still there.
		h.setVisibility(owner, "followers_only")
		h.expect(h.as(follower, "GET", userPath("alice"), nil), 200)
		listsExactly(t, h.expect(h.as(owner, "GET", "/api/users/me/follow-requests", nil), 200), "carol")
		// A follower of a private user may still leave: they know it.
		h.setVisibility(owner, "private")
		h.expect(h.as(follower, "DELETE", userPath("alice", "/follow"), nil), 204)
		h.expect(h.as(follower, "DELETE", userPath("alice", "/follow"), nil), 404)
		h.setVisibility(owner, "public")
		listsExactly(t, h.expect(h.as(anon, "GET", userPath("alice", "/followers"), nil), 200))
	})
}

func TestFollowRules(t *testing.T) {
	each(t, options{}, func(t *testing.T, h *harness) {
		h.newUser("pub", accounts.CreateOptions{})
		shy := h.newUser("shy", accounts.CreateOptions{})
		fan := h.newUser("fan", accounts.CreateOptions{})
		other := h.newUser("other", accounts.CreateOptions{})
		var anon *member
		h.setVisibility(shy, "followers_only")

		// Anonymous callers cannot follow or answer requests.
		h.expect(h.as(anon, "POST", userPath("pub", "/follow"), nil), 401)
		h.expect(h.as(anon, "DELETE", userPath("pub", "/follow"), nil), 401)
		h.expect(h.as(anon, "GET", "/api/users/me/follow-requests", nil), 401)
		h.expect(h.as(anon, "POST", "/api/users/me/follow-requests/fan", nil), 401)
		h.expect(h.as(anon, "GET", userPath("me"), nil), 404)

		// Oneself: 400, by name or as me; unknown: 404.
		h.expect(h.as(fan, "POST", userPath("fan", "/follow"), nil), 400)
		h.expect(h.as(fan, "POST", userPath("me", "/follow"), nil), 400)
		h.expect(h.as(fan, "POST", userPath("FAN", "/follow"), nil), 400)
		h.expect(h.as(fan, "DELETE", userPath("fan", "/follow"), nil), 400)
		h.expect(h.as(fan, "POST", userPath("nobody", "/follow"), nil), 404)

		// Public: 204 at once, and again.
		h.expect(h.as(fan, "POST", userPath("pub", "/follow"), nil), 204)
		h.expect(h.as(fan, "POST", userPath("Pub", "/follow"), nil), 204)
		listsExactly(t, h.expect(h.as(other, "GET", userPath("pub", "/followers"), nil), 200), "fan")
		listsExactly(t, h.expect(h.as(other, "GET", userPath("fan", "/following"), nil), 200), "pub")
		if r := h.as(other, "GET", userPath("fan"), nil); r.Body["following"] != float64(1) {
			t.Fatalf("following count: %s", r.Raw)
		}

		// followers_only: a request (202), repeated (202), listed for the
		// followee only, not counted, not a follower yet.
		h.expect(h.as(fan, "POST", userPath("shy", "/follow"), nil), 202)
		h.expect(h.as(fan, "POST", userPath("shy", "/follow"), nil), 202)
		h.expect(h.as(fan, "GET", userPath("shy"), nil), 404)
		listsExactly(t, h.expect(h.as(shy, "GET", "/api/users/me/follow-requests", nil), 200), "fan")
		listsExactly(t, h.expect(h.as(fan, "GET", "/api/users/me/follow-requests", nil), 200))
		listsExactly(t, h.expect(h.as(shy, "GET", userPath("shy", "/followers"), nil), 200))
		listsExactly(t, h.expect(h.as(fan, "GET", userPath("fan", "/following"), nil), 200), "pub")

		// Only the followee answers, and only real requests: 404 for a
		// request that does not exist, the same for an unknown name.
		h.expect(h.as(other, "POST", "/api/users/me/follow-requests/fan", nil), 404)
		h.expect(h.as(fan, "POST", "/api/users/me/follow-requests/shy", nil), 404)
		sameAnswer(t, "no request", h.as(shy, "POST", "/api/users/me/follow-requests/other", nil), h.as(shy, "POST", "/api/users/me/follow-requests/nobody", nil))
		sameAnswer(t, "no request to decline", h.as(shy, "DELETE", "/api/users/me/follow-requests/other", nil), h.as(shy, "DELETE", "/api/users/me/follow-requests/nobody", nil))
		h.expect(h.as(shy, "POST", "/api/users/me/follow-requests/shy", nil), 404)

		// Approve: now a follower (204), repeatable; POST follow then 204.
		h.expect(h.as(shy, "POST", "/api/users/me/follow-requests/fan", nil), 204)
		h.expect(h.as(shy, "POST", "/api/users/me/follow-requests/fan", nil), 204)
		h.expect(h.as(fan, "POST", userPath("shy", "/follow"), nil), 204)
		h.expect(h.as(fan, "GET", userPath("shy"), nil), 200)
		listsExactly(t, h.expect(h.as(shy, "GET", "/api/users/me/follow-requests", nil), 200))
		listsExactly(t, h.expect(h.as(fan, "GET", userPath("shy", "/followers"), nil), 200), "fan")
		// Declining never removes an approved follower.
		h.expect(h.as(shy, "DELETE", "/api/users/me/follow-requests/fan", nil), 404)
		listsExactly(t, h.expect(h.as(shy, "GET", userPath("shy", "/followers"), nil), 200), "fan")

		// Decline: the request is gone (204), then 404.
		h.expect(h.as(other, "POST", userPath("shy", "/follow"), nil), 202)
		h.expect(h.as(shy, "DELETE", "/api/users/me/follow-requests/other", nil), 204)
		h.expect(h.as(shy, "DELETE", "/api/users/me/follow-requests/other", nil), 404)
		h.expect(h.as(shy, "POST", "/api/users/me/follow-requests/other", nil), 404)
		h.expect(h.as(other, "GET", userPath("shy"), nil), 404)

		// Withdraw: DELETE follow removes a pending request (204).
		h.expect(h.as(other, "POST", userPath("shy", "/follow"), nil), 202)
		h.expect(h.as(other, "DELETE", userPath("shy", "/follow"), nil), 204)
		listsExactly(t, h.expect(h.as(shy, "GET", "/api/users/me/follow-requests", nil), 200))
		h.expect(h.as(shy, "POST", "/api/users/me/follow-requests/other", nil), 404)

		// Unfollow: 204, and again (nothing to do is no error).
		h.expect(h.as(fan, "DELETE", userPath("pub", "/follow"), nil), 204)
		h.expect(h.as(fan, "DELETE", userPath("pub", "/follow"), nil), 204)
		listsExactly(t, h.expect(h.as(fan, "GET", userPath("pub", "/followers"), nil), 200))

		// A request made while followers_only becomes a follow when the
		// followee turns public and the requester asks again.
		h.expect(h.as(other, "POST", userPath("shy", "/follow"), nil), 202)
		h.setVisibility(shy, "public")
		h.expect(h.as(other, "POST", userPath("shy", "/follow"), nil), 204)
		listsExactly(t, h.expect(h.as(anon, "GET", userPath("shy", "/followers"), nil), 200), "other", "fan")
	})
}

// TestPrivateUsersStayOutOfOthersLists: a private user's name in another
// user's list would reveal the account its profile's 404 hides.
func TestPrivateUsersStayOutOfOthersLists(t *testing.T) {
	each(t, options{}, func(t *testing.T, h *harness) {
		star := h.newUser("star", accounts.CreateOptions{})
		hermit := h.newUser("hermit", accounts.CreateOptions{})
		open := h.newUser("open", accounts.CreateOptions{})
		viewer := h.newUser("viewer", accounts.CreateOptions{})
		var anon *member
		h.expect(h.as(hermit, "POST", userPath("star", "/follow"), nil), 204)
		h.expect(h.as(open, "POST", userPath("star", "/follow"), nil), 204)
		h.expect(h.as(star, "POST", userPath("hermit", "/follow"), nil), 204)
		h.setVisibility(hermit, "private")

		for _, m := range []*member{anon, viewer, open} {
			listsExactly(t, h.expect(h.as(m, "GET", userPath("star", "/followers"), nil), 200), "open")
			listsExactly(t, h.expect(h.as(m, "GET", userPath("star", "/following"), nil), 200))
			if r := h.as(m, "GET", userPath("star"), nil); r.Body["followers"] != float64(1) || r.Body["following"] != float64(0) {
				t.Fatalf("counts leak a private user: %s", r.Raw)
			}
		}
		// The list's owner and the private user themself see it.
		for _, m := range []*member{star, hermit} {
			listsExactly(t, h.expect(h.as(m, "GET", userPath("star", "/followers"), nil), 200), "open", "hermit")
			listsExactly(t, h.expect(h.as(m, "GET", userPath("star", "/following"), nil), 200), "hermit")
		}
	})
}

func TestPatchMe(t *testing.T) {
	each(t, options{newLimiter: roomyLimits}, func(t *testing.T, h *harness) {
		me := h.newUser("alice", accounts.CreateOptions{})
		var anon *member
		patch := func(body any) response { return h.as(me, "PATCH", "/api/users/me", body) }
		h.expect(h.as(anon, "PATCH", "/api/users/me", map[string]string{"bio": "x"}), 401)

		r := h.expect(patch(map[string]any{
			"first_name": "Alice", "last_name": "Liddell", "bio": "<b>Reader</b> &amp; <script>alert(1)</script>writer\nof lists",
			"visibility": "followers_only",
		}), 200)
		if r.Body["username"] != "alice" || r.Body["first_name"] != "Alice" || r.Body["last_name"] != "Liddell" ||
			r.Body["bio"] != "Reader & writer\nof lists" || r.Body["visibility"] != "followers_only" ||
			r.Body["notify_followers"] != true || r.Body["notify_chat"] != true {
			t.Fatalf("patched: %s", r.Raw)
		}
		if r.Header.Get("Cache-Control") != "no-store" {
			t.Fatalf("Cache-Control %q", r.Header.Get("Cache-Control"))
		}
		if acct := h.expect(h.as(me, "GET", "/api/auth/me", nil), 200); acct.Body["first_name"] != "Alice" || acct.Body["last_name"] != "Liddell" {
			t.Fatalf("names not in the account: %s", acct.Raw)
		}

		// A partial PATCH keeps the rest; null is "keep" too.
		r = h.expect(patch(map[string]any{"last_name": "L.", "bio": nil}), 200)
		if r.Body["first_name"] != "Alice" || r.Body["last_name"] != "L." || r.Body["bio"] != "Reader & writer\nof lists" || r.Body["visibility"] != "followers_only" {
			t.Fatalf("partial patch: %s", r.Raw)
		}

		// Unknown members are ignored, never applied.
		r = h.expect(patch(map[string]any{
			"bio": "ok", "username": "mallory", "is_staff": true, "is_admin": true, "avatar_url": "javascript:alert(1)",
			"followers": 1000, "email": "evil@example.com", "permissions": []string{"books.add_book"}, "notify_chat": "yes",
		}), 200)
		if r.Body["username"] != "alice" || r.Body["avatar_url"] != nil || r.Body["followers"] != float64(0) || r.Body["bio"] != "ok" {
			t.Fatalf("unknown members applied: %s", r.Raw)
		}
		h.login(me)
		if acct := h.expect(h.as(me, "GET", "/api/auth/me", nil), 200); acct.Body["is_staff"] != false || acct.Body["is_admin"] != false ||
			acct.Body["username"] != "alice" || acct.Body["email"] != "alice@example.com" || len(acct.Body["permissions"].([]any)) != 0 {
			t.Fatalf("account changed: %s", acct.Raw)
		}

		// Sizes: a bio of 500 characters fits, 501 does not (measured as
		// sent, in characters, not bytes).
		h.expect(patch(map[string]any{"bio": strings.Repeat("é", 500)}), 200)
		h.expectFields(patch(map[string]any{"bio": strings.Repeat("é", 501)}), "bio")
		h.expectFields(patch(map[string]any{"bio": strings.Repeat("<b></b>", 100)}), "bio")
		h.expectFields(patch(map[string]any{"first_name": strings.Repeat("a", 151)}), "first_name")
		h.expectFields(patch(map[string]any{"last_name": "a\x00b"}), "last_name")
		h.expectFields(patch(map[string]any{"bio": "bell\x07"}), "bio")
		h.expectFields(patch(map[string]any{"bio": "evil\u202ecod.exe"}), "bio")

		// Visibility is one of three exact values.
		for _, v := range []any{"PUBLIC", "admin", "", " private", "private ", "followers-only", "Public", 1, true, []string{"public"}} {
			h.expectFields(patch(map[string]any{"visibility": v}), "visibility")
		}
		// Wrong types and malformed bodies.
		h.expectFields(patch(map[string]any{"bio": 5}), "bio")
		h.expectFields(patch(map[string]any{"first_name": []string{"a"}}), "first_name")
		h.expect(patch("[]"), 400)
		h.expect(patch("not json"), 400)
		h.expect(patch(`{"bio":"a","bio":"b"}`), 400)
		h.expect(h.call("PATCH", "/api/users/me", "bio=x", me.Access, "Content-Type", "application/x-www-form-urlencoded"), 415)
		h.expect(patch(`{"bio":"`+strings.Repeat("a", 20<<10)+`"}`), 413)

		// Every error at once, and nothing written when one field fails.
		r = patch(map[string]any{"bio": strings.Repeat("a", 501), "visibility": "admin", "first_name": strings.Repeat("b", 151), "last_name": "Changed"})
		h.expectFields(r, "bio", "visibility", "first_name")
		if got := h.expect(h.as(me, "GET", userPath("me"), nil), 200); got.Body["last_name"] != "L." || got.Body["visibility"] != "followers_only" {
			t.Fatalf("a refused PATCH wrote: %s", got.Raw)
		}
	})
}

func TestReviewPermissionRules(t *testing.T) {
	each(t, options{}, func(t *testing.T, h *harness) {
		adder := h.newUser("adder", canAdd)
		author := h.newUser("author", accounts.CreateOptions{})
		other := h.newUser("other", accounts.CreateOptions{})
		staff := h.newUser("staffer", accounts.CreateOptions{Staff: true})
		admin := h.newUser("admin", accounts.CreateOptions{Admin: true})
		var anon *member
		book := h.addBook(adder, "Dune")
		second := h.addBook(adder, "Emma")

		h.expect(h.as(anon, "POST", "/api/reviews", map[string]any{"book_id": book, "title": "t", "review_text": "x", "rating": 3, "is_public": true}), 401)
		r := h.expect(h.as(author, "POST", "/api/reviews", map[string]any{
			"book_id": book, "title": "Spice", "review_text": "<p>Great <em>book</em></p>", "rating": 5, "is_public": true,
			"user": "other", "id": 999, "created_at": "2000-01-01T00:00:00Z",
		}), 201)
		public := int64(r.Body["id"].(float64))
		if r.Body["user"] != "author" || r.Body["book_id"] != float64(book) || r.Body["title"] != "Spice" ||
			r.Body["review_text"] != "<p>Great <em>book</em></p>" || r.Body["rating"] != float64(5) || r.Body["is_public"] != true ||
			public == 999 || strings.HasPrefix(r.Body["created_at"].(string), "2000") {
			t.Fatalf("created: %s", r.Raw)
		}
		private := h.review(author, book, "Notes to self", false)
		onSecond := h.review(other, second, "Emma review", true)

		// Reading: public reviews for anyone; a private one for its author
		// only, the others (staff and admins included) get the answer of
		// an unknown id.
		for _, m := range []*member{anon, author, other, staff, admin} {
			h.expect(h.as(m, "GET", reviewPath(public), nil), 200)
		}
		h.expect(h.as(author, "GET", reviewPath(private), nil), 200)
		for _, m := range []*member{anon, other, staff, admin} {
			sameAnswer(t, "private review", h.as(m, "GET", reviewPath(private), nil), h.as(m, "GET", reviewPath(private+1000), nil))
		}
		// Lists: public ones, plus the caller's own private ones.
		for _, m := range []*member{anon, other, staff} {
			if got := reviewIDs(t, h.expect(h.as(m, "GET", "/api/reviews", nil), 200)); !slices.Equal(got, []int64{onSecond, public}) {
				t.Fatalf("list for %v: %v", m, got)
			}
		}
		r = h.expect(h.as(author, "GET", "/api/reviews", nil), 200)
		if got := reviewIDs(t, r); !slices.Equal(got, []int64{onSecond, private, public}) || r.Body["count"] != float64(3) {
			t.Fatalf("author's list: %s", r.Raw)
		}
		if got := reviewIDs(t, h.expect(h.as(author, "GET", "/api/reviews?book_id="+strconv.FormatInt(book, 10), nil), 200)); !slices.Equal(got, []int64{private, public}) {
			t.Fatalf("book filter: %v", got)
		}
		if got := reviewIDs(t, h.expect(h.as(anon, "GET", "/api/reviews?book_id="+strconv.FormatInt(second, 10), nil), 200)); !slices.Equal(got, []int64{onSecond}) {
			t.Fatalf("book filter: %v", got)
		}
		listsNone := h.expect(h.as(anon, "GET", "/api/reviews?book_id=987654", nil), 200)
		if listsNone.Body["count"] != float64(0) || len(listsNone.Body["results"].([]any)) != 0 {
			t.Fatalf("unknown book's reviews: %s", listsNone.Raw)
		}
		for _, bad := range []string{"abc", "0", "-1", "1.5", "01", "99999999999999999999", "1%20OR%201=1"} {
			h.expectFields(h.as(anon, "GET", "/api/reviews?book_id="+bad, nil), "book_id")
		}

		// Writing: the author only. Anonymous 401 first; another user 403
		// on a review they can see, 404 on one they cannot.
		patch := map[string]any{"rating": 2}
		for _, id := range []int64{public, private} {
			h.expect(h.as(anon, "PATCH", reviewPath(id), patch), 401)
			h.expect(h.as(anon, "DELETE", reviewPath(id), nil), 401)
		}
		for _, m := range []*member{other, staff, admin} {
			h.expect(h.as(m, "PATCH", reviewPath(public), patch), 403)
			h.expect(h.as(m, "DELETE", reviewPath(public), nil), 403)
			sameAnswer(t, "patch private", h.as(m, "PATCH", reviewPath(private), patch), h.as(m, "PATCH", reviewPath(private+1000), patch))
			sameAnswer(t, "delete private", h.as(m, "DELETE", reviewPath(private), nil), h.as(m, "DELETE", reviewPath(private+1000), nil))
		}
		r = h.expect(h.as(author, "PATCH", reviewPath(public), map[string]any{
			"rating": 2, "title": "<i>Spice</i> &amp; sand", "book_id": second, "user": "other", "is_public": nil,
		}), 200)
		if r.Body["rating"] != float64(2) || r.Body["title"] != "Spice & sand" || r.Body["book_id"] != float64(book) ||
			r.Body["user"] != "author" || r.Body["is_public"] != true || r.Body["review_text"] != "<p>Great <em>book</em></p>" {
			t.Fatalf("patched: %s", r.Raw)
		}
		// Making a review private hides it at once.
		h.expect(h.as(author, "PATCH", reviewPath(public), map[string]any{"is_public": false}), 200)
		h.expect(h.as(other, "GET", reviewPath(public), nil), 404)
		h.expect(h.as(other, "PATCH", reviewPath(public), patch), 404)
		h.expect(h.as(author, "DELETE", reviewPath(public), nil), 204)
		h.expect(h.as(author, "DELETE", reviewPath(public), nil), 404)
		h.expect(h.as(author, "GET", reviewPath(public), nil), 404)

		// A book's reviews go with it.
		h.expect(h.as(adder, "DELETE", bookPath(second), nil), 204)
		h.expect(h.as(anon, "GET", reviewPath(onSecond), nil), 404)
	})
}

func TestReviewInputIsChecked(t *testing.T) {
	each(t, options{newLimiter: roomyLimits}, func(t *testing.T, h *harness) {
		adder := h.newUser("adder", canAdd)
		me := h.newUser("writer", accounts.CreateOptions{})
		book := h.addBook(adder, "Dune")
		valid := func(change map[string]any) map[string]any {
			in := map[string]any{"book_id": book, "title": "Title", "review_text": "Text", "rating": 3, "is_public": true}
			for k, v := range change {
				if v == nil {
					delete(in, k)
				} else {
					in[k] = v
				}
			}
			return in
		}
		post := func(change map[string]any) response { return h.as(me, "POST", "/api/reviews", valid(change)) }

		for _, rating := range []any{0, 6, -1, 100, "5", 5.5, "five", true, []int{5}} {
			h.expectFields(post(map[string]any{"rating": rating}), "rating")
		}
		h.expectFields(post(map[string]any{"rating": nil}), "rating")
		h.expectFields(h.as(me, "POST", "/api/reviews", map[string]any{}), "book_id", "title", "review_text", "rating", "is_public")
		for _, v := range []any{"true", 1, "yes"} {
			h.expectFields(post(map[string]any{"is_public": v}), "is_public")
		}
		// An unknown book is a 400 naming book_id.
		for _, id := range []any{book + 1000, 0, -5, "1", 1.5, 1e30} {
			h.expectFields(post(map[string]any{"book_id": id}), "book_id")
		}
		// Sizes, as sent; markup does not count as content.
		h.expect(post(map[string]any{"title": strings.Repeat("t", 200)}), 201)
		h.expectFields(post(map[string]any{"title": strings.Repeat("t", 201)}), "title")
		h.expectFields(post(map[string]any{"title": strings.Repeat("<b></b>", 30)}), "title")
		h.expectFields(post(map[string]any{"title": "   "}), "title")
		h.expectFields(post(map[string]any{"title": "two\nlines"}), "title")
		h.expectFields(post(map[string]any{"title": "rtl\u202eoverride"}), "title")
		h.expect(post(map[string]any{"review_text": strings.Repeat("x", 10000)}), 201)
		h.expectFields(post(map[string]any{"review_text": strings.Repeat("x", 10001)}), "review_text")
		h.expectFields(post(map[string]any{"review_text": "<script>alert(1)</script>"}), "review_text")
		h.expectFields(post(map[string]any{"review_text": "<p><br></p>"}), "review_text")
		h.expectFields(post(map[string]any{"review_text": "nul\x00byte"}), "review_text")
		// The longest text fits the body limit even written as JSON escapes.
		h.expect(h.as(me, "POST", "/api/reviews", fmt.Sprintf(`{"book_id":%d,"title":"T","review_text":"%s","rating":3,"is_public":true}`, book, strings.Repeat(`\u00e9`, 10000))), 201)
		h.expect(h.as(me, "POST", "/api/reviews", `{"review_text":"`+strings.Repeat("a", 200<<10)+`"}`), 413)
		h.expect(h.as(me, "POST", "/api/reviews", `[1,2]`), 400)
		h.expect(h.call("POST", "/api/reviews", `{}`, me.Access, "Content-Type", "text/plain"), 415)

		// What is kept: the allow-list, with the server's rel on links.
		r := h.expect(post(map[string]any{
			"title":       "<i>Dune</i> &amp; <script>x()</script>me",
			"review_text": `<p onclick="x()">Hi <strong>there</strong> <a href="https://example.com/a?b=1&amp;c=2" title="t" target="_blank" rel="opener" onclick="x()">link</a> <a href="javascript:alert(1)">bad</a><img src=x onerror=alert(1)></p><ul><li>one</li></ul>`,
		}), 201)
		if r.Body["title"] != "Dune & me" {
			t.Fatalf("title: %s", r.Raw)
		}
		want := `<p>Hi <strong>there</strong> <a href="https://example.com/a?b=1&amp;c=2" title="t" rel="nofollow noopener">link</a> bad</p><ul><li>one</li></ul>`
		if r.Body["review_text"] != want {
			t.Fatalf("review_text:\n got %s\nwant %s", r.Body["review_text"], want)
		}

		// Odd review ids name no review.
		for _, id := range []string{"abc", "0", "-1", "01", "1.0", "99999999999999999999", "1%20OR%201=1", "%00"} {
			h.expect(h.as(me, "GET", "/api/reviews/"+id, nil), 404)
			h.expect(h.as(me, "PATCH", "/api/reviews/"+id, map[string]any{"rating": 1}), 404)
			h.expect(h.as(me, "DELETE", "/api/reviews/"+id, nil), 404)
		}

		// PATCH checks what it reads the same way, and writes nothing when
		// a member fails.
		id := h.review(me, book, "Keep", true)
		h.expectFields(h.as(me, "PATCH", reviewPath(id), map[string]any{"rating": 0, "title": "Changed"}), "rating")
		h.expectFields(h.as(me, "PATCH", reviewPath(id), map[string]any{"title": ""}), "title")
		h.expectFields(h.as(me, "PATCH", reviewPath(id), map[string]any{"review_text": "<iframe src=x></iframe>"}), "review_text")
		h.expectFields(h.as(me, "PATCH", reviewPath(id), map[string]any{"is_public": "false"}), "is_public")
		if got := h.expect(h.as(me, "GET", reviewPath(id), nil), 200); got.Body["title"] != "Keep" || got.Body["rating"] != float64(4) {
			t.Fatalf("a refused PATCH wrote: %s", got.Raw)
		}
	})
}

// TestOddUsernamesInPaths: a username in a path names one account, the
// way login names it, or none; never another one by trimming or folding.
func TestOddUsernamesInPaths(t *testing.T) {
	each(t, options{}, func(t *testing.T, h *harness) {
		h.newUser("alice", accounts.CreateOptions{})
		me := h.newUser("viewer", accounts.CreateOptions{})
		if r := h.expect(h.as(me, "GET", userPath("ALICE"), nil), 200); r.Body["username"] != "alice" {
			t.Fatalf("case: %s", r.Raw)
		}
		unknown := h.as(me, "GET", userPath("nobody"), nil)
		for _, name := range []string{
			" alice", "alice ", "alice\t", "\talice", "alice\x00", "al/ice", "../alice", "alice/..", "%61lice",
			"ａｌｉｃｅ", "\u202ealice", "alice\u200b", "alice' OR '1'='1", "alice%", "*", "_", "%",
			strings.Repeat("a", 151), strings.Repeat("alice", 1000), "é", "\xff",
		} {
			r := h.as(me, "GET", "/api/users/"+url.PathEscape(name), nil)
			if r.Status == 200 {
				t.Fatalf("%q named a profile: %s", name, r.Raw)
			}
			if r.Status != 404 && r.Status != 400 {
				t.Fatalf("%q: %d %s", name, r.Status, r.Raw)
			}
			if r.Status == 404 {
				sameAnswer(t, fmt.Sprintf("%q", name), r, unknown)
			}
			if fr := h.as(me, "POST", "/api/users/"+url.PathEscape(name)+"/follow", nil); fr.Status != 404 && fr.Status != 400 {
				t.Fatalf("follow %q: %d %s", name, fr.Status, fr.Raw)
			}
			if fr := h.as(me, "POST", "/api/users/me/follow-requests/"+url.PathEscape(name), nil); fr.Status != 404 && fr.Status != 400 {
				t.Fatalf("approve %q: %d %s", name, fr.Status, fr.Raw)
			}
		}
		listsExactly(t, h.expect(h.as(me, "GET", userPath("alice", "/followers"), nil), 200))
	})
}

func TestSocialListsPage(t *testing.T) {
	each(t, options{}, func(t *testing.T, h *harness) {
		adder := h.newUser("adder", canAdd)
		me := h.newUser("writer", accounts.CreateOptions{})
		book := h.addBook(adder, "Dune")
		var ids []int64
		for i := range 25 {
			ids = append(ids, h.review(me, book, "Review "+strconv.Itoa(i), i%5 != 0))
		}
		slices.Reverse(ids) // newest first

		// By cursor: 10, 10, 5, then next is null.
		var got []int64
		path := "/api/reviews?page_size=10"
		for page := 1; ; page++ {
			r := h.expect(h.as(me, "GET", path, nil), 200)
			if r.Body["count"] != float64(25) || r.Body["page"] != float64(page) || r.Body["page_size"] != float64(10) {
				t.Fatalf("page %d: %s", page, r.Raw)
			}
			got = append(got, reviewIDs(t, r)...)
			next, _ := r.Body["next"].(string)
			if next == "" {
				if _, ok := r.Body["next"]; !ok || page != 3 {
					t.Fatalf("last page %d: %s", page, r.Raw)
				}
				break
			}
			path = "/api/reviews?cursor=" + url.QueryEscape(next)
		}
		if !slices.Equal(got, ids) {
			t.Fatalf("pages %v, want %v", got, ids)
		}
		// By number, the same rows.
		if p2 := reviewIDs(t, h.expect(h.as(me, "GET", "/api/reviews?page=2&page_size=10", nil), 200)); !slices.Equal(p2, ids[10:20]) {
			t.Fatalf("page 2: %v", p2)
		}
		// Anonymous callers page through the public ones only.
		r := h.expect(h.as(nil, "GET", "/api/reviews?page_size=100", nil), 200)
		if r.Body["count"] != float64(20) || len(reviewIDs(t, r)) != 20 {
			t.Fatalf("anonymous: %s", r.Raw)
		}
		if r := h.expect(h.as(me, "GET", "/api/reviews?page_size=1000", nil), 200); r.Body["page_size"] != float64(100) {
			t.Fatalf("clamp: %s", r.Raw)
		}
		// A cursor belongs to its list: not another filter's, not a
		// follower list's, not a forged one.
		first := h.expect(h.as(me, "GET", "/api/reviews?page_size=5", nil), 200)
		cursor := url.QueryEscape(first.Body["next"].(string))
		h.expectFields(h.as(me, "GET", "/api/reviews?book_id="+strconv.FormatInt(book, 10)+"&cursor="+cursor, nil), "cursor")
		h.expectFields(h.as(me, "GET", userPath("writer", "/followers?cursor="+cursor), nil), "cursor")
		forge := func(change func(c map[string]any)) string {
			raw, err := base64.RawURLEncoding.DecodeString(first.Body["next"].(string))
			if err != nil {
				t.Fatal(err)
			}
			var c map[string]any
			if err := json.Unmarshal(raw, &c); err != nil {
				t.Fatal(err)
			}
			change(c)
			out, _ := json.Marshal(c)
			return base64.RawURLEncoding.EncodeToString(out)
		}
		for _, bad := range []string{
			"x", "%00", strings.Repeat("A", 600),
			forge(func(c map[string]any) { c["k"] = []any{"1' OR 1=1"} }),
			forge(func(c map[string]any) { c["k"] = []any{1e30} }),
			forge(func(c map[string]any) { c["k"] = []any{1, 2} }),
			forge(func(c map[string]any) { c["s"] = 1000 }),
			forge(func(c map[string]any) { c["p"] = 0 }),
			forge(func(c map[string]any) { c["o"] = "" }),
		} {
			h.expectFields(h.as(me, "GET", "/api/reviews?cursor="+bad, nil), "cursor")
		}
		// A forged key within the list only moves the start: the filters
		// still apply, so an anonymous caller sees no private review.
		r = h.expect(h.as(nil, "GET", "/api/reviews?cursor="+forge(func(c map[string]any) { c["k"] = []any{1 << 40} }), nil), 200)
		if r.Body["count"] != float64(20) {
			t.Fatalf("forged cursor: %s", r.Raw)
		}
		for _, v := range r.Body["results"].([]any) {
			if v.(map[string]any)["is_public"] != true {
				t.Fatalf("forged cursor showed a private review: %s", r.Raw)
			}
		}
		for _, bad := range []string{"page=0", "page=-1", "page=x", "page_size=0", "page_size=-5", "page_size=x"} {
			h.expect(h.as(me, "GET", "/api/reviews?"+bad, nil), 400)
		}

		// Follower lists page the same way.
		for i := range 5 {
			f := h.newUser("fan"+strconv.Itoa(i), accounts.CreateOptions{})
			h.expect(h.as(f, "POST", userPath("writer", "/follow"), nil), 204)
		}
		r = h.expect(h.as(nil, "GET", userPath("writer", "/followers?page_size=2"), nil), 200)
		listed := usernamesOf(t, r)
		for r.Body["next"] != nil {
			r = h.expect(h.as(nil, "GET", userPath("writer", "/followers?cursor="+url.QueryEscape(r.Body["next"].(string))), nil), 200)
			listed = append(listed, usernamesOf(t, r)...)
		}
		if !slices.Equal(listed, []string{"fan4", "fan3", "fan2", "fan1", "fan0"}) || r.Body["count"] != float64(5) {
			t.Fatalf("followers by page: %v %s", listed, r.Raw)
		}
	})
}

func TestSocialRoutesAreDocumented(t *testing.T) {
	h := newHarness(t, sqliteEngine(), options{})
	want := map[string]bool{}
	for _, route := range []string{
		"GET /api/users/{username}", "PATCH /api/users/me", "GET /api/users/{username}/followers", "GET /api/users/{username}/following",
		"POST /api/users/{username}/follow", "DELETE /api/users/{username}/follow", "GET /api/users/me/follow-requests",
		"POST /api/users/me/follow-requests/{username}", "DELETE /api/users/me/follow-requests/{username}",
		"GET /api/reviews", "POST /api/reviews", "GET /api/reviews/{id}", "PATCH /api/reviews/{id}", "DELETE /api/reviews/{id}",
	} {
		want[route] = true
	}
	public := map[string]bool{"GET /api/users/{username}": true, "GET /api/users/{username}/followers": true, "GET /api/users/{username}/following": true, "GET /api/reviews": true, "GET /api/reviews/{id}": true}
	for _, ri := range h.router.Routes() {
		key := ri.Method + " " + ri.Pattern
		if !want[key] {
			continue
		}
		delete(want, key)
		if ri.Operation == nil || len(ri.Auth) != 1 || !ri.NoStore {
			t.Errorf("%s: %+v", key, ri)
		}
		if ri.Public != public[key] {
			t.Errorf("%s: public %v", key, ri.Public)
		}
		if ri.Method != http.MethodGet && len(ri.Limits) == 0 {
			t.Errorf("%s: no write limit", key)
		}
	}
	if len(want) > 0 {
		t.Fatalf("routes missing: %v", want)
	}
}

// TestSocialWritesAreLimited: each user's social writes share one
// per-user limit (social_write), which answers 429 with Retry-After.
func TestSocialWritesAreLimited(t *testing.T) {
	h := newHarness(t, sqliteEngine(), options{})
	me := h.newUser("busy", accounts.CreateOptions{})
	other := h.newUser("calm", accounts.CreateOptions{})
	var last response
	for range 61 {
		if last = h.as(me, "PATCH", "/api/users/me", map[string]string{"bio": "again"}); last.Status != 200 {
			break
		}
	}
	if last.Status != 429 || last.Header.Get("Retry-After") == "" {
		t.Fatalf("61 writes: %d %v %s", last.Status, last.Header, last.Raw)
	}
	h.expect(h.as(me, "POST", userPath("calm", "/follow"), nil), 429)
	h.expect(h.as(me, "GET", userPath("calm"), nil), 200) // reads are not writes
	h.expect(h.as(other, "POST", userPath("busy", "/follow"), nil), 204)
}

// TestProfileHooks: what later features call (the avatar upload, the
// event stream) reads and writes the same profile the routes show.
func TestProfileHooks(t *testing.T) {
	each(t, options{}, func(t *testing.T, h *harness) {
		ctx := t.Context()
		m := h.newUser("pic", accounts.CreateOptions{})
		if prefs, err := h.club.NotificationPrefs(ctx, m.ID); err != nil || !prefs.Followers || !prefs.Chat {
			t.Fatalf("default preferences: %+v %v", prefs, err)
		}
		avatar := "/media/avatars/abc.png"
		if err := h.club.SetAvatarURL(ctx, m.ID, &avatar); err != nil {
			t.Fatal(err)
		}
		r := h.expect(h.as(nil, "GET", userPath("pic"), nil), 200)
		if r.Body["avatar_url"] != avatar || r.Body["visibility"] != "public" || r.Body["bio"] != "" {
			t.Fatalf("avatar: %s", r.Raw)
		}
		// PATCH leaves the avatar alone, whatever it is sent.
		h.expect(h.as(m, "PATCH", "/api/users/me", map[string]any{"bio": "hi", "avatar_url": nil}), 200)
		if r := h.expect(h.as(nil, "GET", userPath("pic"), nil), 200); r.Body["avatar_url"] != avatar || r.Body["bio"] != "hi" {
			t.Fatalf("after PATCH: %s", r.Raw)
		}
		if err := h.club.SetAvatarURL(ctx, m.ID, nil); err != nil {
			t.Fatal(err)
		}
		if r := h.expect(h.as(nil, "GET", userPath("pic"), nil), 200); r.Body["avatar_url"] != nil {
			t.Fatalf("avatar removed: %s", r.Raw)
		}
	})
}
