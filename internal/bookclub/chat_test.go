package bookclub_test

import (
	"bytes"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/net/html"

	"github.com/wardenhq/warden/internal/accounts"
	"github.com/wardenhq/warden/internal/bookclub"
)

// Chat rooms, membership and history over HTTP (and the service functions
// live delivery calls), on every engine the environment has.

func roomPath(id int64, rest ...string) string {
	return "/api/chat/rooms/" + strconv.FormatInt(id, 10) + strings.Join(rest, "")
}

// newRoom creates a room named name as m and returns its id.
func (h *harness) newRoom(m *member, name string) int64 {
	h.t.Helper()
	r := h.expect(h.as(m, "POST", "/api/chat/rooms", map[string]string{"name": name}), 201)
	return int64(r.Body["id"].(float64))
}

// addMember adds the user named name to room as m, expecting 204.
func (h *harness) addMember(m *member, room int64, name string) {
	h.t.Helper()
	h.expect(h.as(m, "POST", roomPath(room, "/members"), map[string]string{"username": name}), 204)
}

// post stores text as m's message in room through the service, as the
// WebSocket handler does, and returns its id.
func (h *harness) post(m *member, room int64, text string) int64 {
	h.t.Helper()
	msg, err := h.club.PostChatMessage(h.t.Context(), room, m.ID, text)
	if err != nil {
		h.t.Fatalf("post %q: %v", text, err)
	}
	return msg.ID
}

// results returns the objects of a list answer.
func results(t *testing.T, r response) []map[string]any {
	t.Helper()
	raw, ok := r.Body["results"].([]any)
	if !ok {
		t.Fatalf("no results: %s", r.Raw)
	}
	out := make([]map[string]any, len(raw))
	for i, v := range raw {
		out[i] = v.(map[string]any)
	}
	return out
}

// ids returns the id of each object of a list answer.
func ids(t *testing.T, r response) []int64 {
	t.Helper()
	var out []int64
	for _, v := range results(t, r) {
		out = append(out, int64(v["id"].(float64)))
	}
	return out
}

// utcTime fails unless v is an RFC 3339 time in UTC, as every time of the
// book club is written.
func utcTime(t *testing.T, v any) time.Time {
	t.Helper()
	s, _ := v.(string)
	at, err := time.Parse(time.RFC3339Nano, s)
	if err != nil || !strings.HasSuffix(s, "Z") {
		t.Fatalf("time %v: %v", v, err)
	}
	return at
}

func TestChatRoomsAndMembership(t *testing.T) {
	each(t, options{newLimiter: roomyLimits}, func(t *testing.T, h *harness) {
		alice := h.newUser("alice", accounts.CreateOptions{})
		bob := h.newUser("bob", accounts.CreateOptions{})
		carol := h.newUser("carol", accounts.CreateOptions{})
		pat := h.newUser("pat", accounts.CreateOptions{})
		staff := h.newUser("sid", accounts.CreateOptions{Staff: true, Admin: true})
		h.setVisibility(pat, "private")

		before := h.clock.Now().Add(-time.Second)
		r := h.expect(h.as(alice, "POST", "/api/chat/rooms", map[string]any{"name": "  Book <b>club</b> &amp; friends ", "id": 7, "created_by": "bob"}), 201)
		room := int64(r.Body["id"].(float64))
		if r.Body["name"] != "Book club & friends" || r.Body["created_by"] != "alice" || room == 7 {
			t.Fatalf("created: %s", r.Raw)
		}
		if at := utcTime(t, r.Body["created_at"]); at.Before(before) {
			t.Fatalf("created_at %v", at)
		}
		mine := h.expect(h.as(alice, "GET", "/api/chat/rooms", nil), 200)
		if mine.Body["count"] != float64(1) || mine.Body["next"] != nil || !slices.Equal(ids(t, mine), []int64{room}) || results(t, mine)[0]["name"] != "Book club & friends" {
			t.Fatalf("alice's rooms: %s", mine.Raw)
		}
		h.expect(h.as(nil, "GET", "/api/chat/rooms", nil), 401)
		h.expect(h.as(nil, "POST", "/api/chat/rooms", map[string]string{"name": "x"}), 401)
		h.expect(h.as(nil, "GET", roomPath(room, "/messages"), nil), 401)

		// To a non-member, staff included, a room is not there: the
		// answers are those of an unknown room, whatever is asked.
		unknown := roomPath(room + 1000)
		for _, m := range []*member{bob, staff} {
			sameAnswer(t, "history", h.as(m, "GET", roomPath(room, "/messages"), nil), h.as(m, "GET", unknown+"/messages", nil))
			h.expect(h.as(m, "GET", roomPath(room, "/messages"), nil), 404)
			sameAnswer(t, "add", h.as(m, "POST", roomPath(room, "/members"), map[string]string{"username": m.Name}), h.as(m, "POST", unknown+"/members", map[string]string{"username": m.Name}))
			sameAnswer(t, "remove", h.as(m, "DELETE", roomPath(room, "/members/alice"), nil), h.as(m, "DELETE", unknown+"/members/alice", nil))
			sameAnswer(t, "leave", h.as(m, "DELETE", roomPath(room, "/members/me"), nil), h.as(m, "DELETE", unknown+"/members/me", nil))
			listsRooms(t, h.expect(h.as(m, "GET", "/api/chat/rooms", nil), 200))
		}

		// The creator adds; adding again changes nothing.
		h.addMember(alice, room, "bob")
		h.addMember(alice, room, "BOB")
		h.addMember(alice, room, "me")
		listsRooms(t, h.expect(h.as(bob, "GET", "/api/chat/rooms", nil), 200), room)
		h.expect(h.as(bob, "GET", roomPath(room, "/messages"), nil), 200)

		// A member who is not the creator cannot add anyone.
		h.expect(h.as(bob, "POST", roomPath(room, "/members"), map[string]string{"username": "carol"}), 403)
		h.expect(h.as(bob, "POST", roomPath(room, "/members"), map[string]string{"username": "nobody"}), 403)
		h.expect(h.as(carol, "GET", roomPath(room, "/messages"), nil), 404)

		// An unknown user and one whose profile the creator may not see get
		// the same 404, as on /api/users/{username}.
		missing := h.as(alice, "POST", roomPath(room, "/members"), map[string]string{"username": "nobody"})
		h.expect(missing, 404)
		sameAnswer(t, "private user", h.as(alice, "POST", roomPath(room, "/members"), map[string]string{"username": "pat"}), missing)
		h.setVisibility(carol, "followers_only")
		sameAnswer(t, "followers_only user", h.as(alice, "POST", roomPath(room, "/members"), map[string]string{"username": "carol"}), missing)
		for _, name := range []string{" bob", "bob ", "bob\x00", "%", "_", strings.Repeat("b", 151)} {
			sameAnswer(t, fmt.Sprintf("%q", name), h.as(alice, "POST", roomPath(room, "/members"), map[string]string{"username": name}), missing)
		}
		h.setVisibility(carol, "public")
		h.addMember(alice, room, "carol")

		// The body: username required, a string.
		h.expectFields(h.as(alice, "POST", roomPath(room, "/members"), map[string]any{}), "username")
		h.expectFields(h.as(alice, "POST", roomPath(room, "/members"), map[string]any{"username": ""}), "username")
		h.expectFields(h.as(alice, "POST", roomPath(room, "/members"), map[string]any{"username": 5}), "username")
		h.expect(h.as(alice, "POST", roomPath(room, "/members"), `["bob"]`), 400)
		h.expect(h.call("POST", roomPath(room, "/members"), `{"username":"bob"}`, alice.Access, "Content-Type", "text/plain"), 415)
		h.expect(h.as(alice, "POST", roomPath(room, "/members"), `{"username":"`+strings.Repeat("a", 10<<10)+`"}`), 413)

		// A member removes only themselves; any other name is 403,
		// account or not, member or not.
		for _, name := range []string{"carol", "alice", "nobody", "pat", "sid"} {
			h.expect(h.as(bob, "DELETE", roomPath(room, "/members/"+name), nil), 403)
		}
		h.expect(h.as(bob, "DELETE", roomPath(room, "/members/me"), nil), 204)
		h.expect(h.as(bob, "GET", roomPath(room, "/messages"), nil), 404)
		h.expect(h.as(bob, "DELETE", roomPath(room, "/members/me"), nil), 404)
		listsRooms(t, h.expect(h.as(bob, "GET", "/api/chat/rooms", nil), 200))

		// The creator removes anyone; someone who is not a member is a
		// 404, the same as an unknown name.
		notMember := h.as(alice, "DELETE", roomPath(room, "/members/bob"), nil)
		h.expect(notMember, 404)
		sameAnswer(t, "not a member", h.as(alice, "DELETE", roomPath(room, "/members/nobody"), nil), notMember)
		sameAnswer(t, "private non-member", h.as(alice, "DELETE", roomPath(room, "/members/pat"), nil), notMember)
		h.expect(h.as(alice, "DELETE", roomPath(room, "/members/CAROL"), nil), 204)
		h.expect(h.as(carol, "GET", roomPath(room, "/messages"), nil), 404)

		// A member the creator can no longer see can still be removed.
		h.addMember(alice, room, "carol")
		h.setVisibility(carol, "private")
		h.expect(h.as(alice, "DELETE", roomPath(room, "/members/carol"), nil), 204)

		// The creator may leave too, and is then a stranger to the room;
		// the other members keep it.
		h.addMember(alice, room, "bob")
		h.expect(h.as(alice, "DELETE", roomPath(room, "/members/alice"), nil), 204)
		h.expect(h.as(alice, "GET", roomPath(room, "/messages"), nil), 404)
		h.expect(h.as(alice, "POST", roomPath(room, "/members"), map[string]string{"username": "alice"}), 404)
		listsRooms(t, h.expect(h.as(alice, "GET", "/api/chat/rooms", nil), 200))
		h.expect(h.as(bob, "GET", roomPath(room, "/messages"), nil), 200)
		if r := h.expect(h.as(bob, "GET", "/api/chat/rooms", nil), 200); results(t, r)[0]["created_by"] != "alice" {
			t.Fatalf("rooms after the creator left: %s", r.Raw)
		}
		h.expect(h.as(bob, "POST", roomPath(room, "/members"), map[string]string{"username": "carol"}), 403)
	})
}

// listsRooms checks the ids of a list of rooms and its count.
func listsRooms(t *testing.T, r response, want ...int64) {
	t.Helper()
	if got := ids(t, r); !slices.Equal(got, want) || r.Body["count"] != float64(len(want)) {
		t.Fatalf("rooms %v, want %v: %s", got, want, r.Raw)
	}
}

func TestChatRoomInputIsChecked(t *testing.T) {
	each(t, options{newLimiter: roomyLimits}, func(t *testing.T, h *harness) {
		me := h.newUser("writer", accounts.CreateOptions{})
		for _, bad := range []any{
			map[string]any{}, map[string]any{"name": nil}, map[string]any{"name": ""}, map[string]any{"name": "   "},
			map[string]any{"name": "<b></b>"}, map[string]any{"name": "<script>alert(1)</script>"}, map[string]any{"name": "<!-- x -->"},
			map[string]any{"name": strings.Repeat("n", 101)}, map[string]any{"name": strings.Repeat("é", 101)},
			map[string]any{"name": "two\nlines"}, map[string]any{"name": "cr\rlf"}, map[string]any{"name": "nul\x00"},
			map[string]any{"name": "rtl\u202eoverride"}, map[string]any{"name": "entity&#1;control"}, map[string]any{"name": "entity&#x202e;bidi"},
			map[string]any{"name": 5}, map[string]any{"name": []string{"a"}},
		} {
			h.expectFields(h.as(me, "POST", "/api/chat/rooms", bad), "name")
		}
		h.expect(h.as(me, "POST", "/api/chat/rooms", `"name"`), 400)
		h.expect(h.as(me, "POST", "/api/chat/rooms", `{"name":"a","name":"b"}`), 400)
		h.expect(h.call("POST", "/api/chat/rooms", `{"name":"a"}`, me.Access, "Content-Type", "text/plain"), 415)
		h.expect(h.as(me, "POST", "/api/chat/rooms", `{"name":"`+strings.Repeat("a", 9<<10)+`"}`), 413)
		listsRooms(t, h.expect(h.as(me, "GET", "/api/chat/rooms", nil), 200))

		// The limit counts what is left once markup is stripped.
		if r := h.expect(h.as(me, "POST", "/api/chat/rooms", map[string]string{"name": "<i>" + strings.Repeat("é", 100) + "</i>"}), 201); r.Body["name"] != strings.Repeat("é", 100) {
			t.Fatalf("100 characters: %s", r.Raw)
		}
		if r := h.expect(h.as(me, "POST", "/api/chat/rooms", map[string]string{"name": "a &lt;script&gt;alert(1)&lt;/script&gt; b"}), 201); strings.Contains(r.Body["name"].(string), "<") {
			t.Fatalf("encoded markup: %s", r.Raw)
		}
		if r := h.expect(h.as(me, "POST", "/api/chat/rooms", map[string]string{"name": "1 < 2"}), 201); r.Body["name"] != "1 < 2" {
			t.Fatalf("a lone <: %s", r.Raw)
		}

		// Odd room ids name no room, as book and review ids do.
		room := h.newRoom(me, "Mine")
		want := h.as(me, "GET", roomPath(room+1000, "/messages"), nil)
		for _, id := range []string{"abc", "0", "-1", "01", "+1", "1.0", "1e3", "99999999999999999999", "1%20OR%201=1", "%00", strconv.FormatInt(room, 10) + "%00"} {
			sameAnswer(t, id, h.as(me, "GET", "/api/chat/rooms/"+id+"/messages", nil), want)
			h.expect(h.as(me, "POST", "/api/chat/rooms/"+id+"/members", map[string]string{"username": "writer"}), 404)
			h.expect(h.as(me, "DELETE", "/api/chat/rooms/"+id+"/members/me", nil), 404)
		}
	})
}

func TestChatHistory(t *testing.T) {
	each(t, options{newLimiter: roomyLimits}, func(t *testing.T, h *harness) {
		ctx := t.Context()
		alice := h.newUser("alice", accounts.CreateOptions{})
		bob := h.newUser("bob", accounts.CreateOptions{})
		eve := h.newUser("eve", accounts.CreateOptions{})
		room := h.newRoom(alice, "Readers")
		other := h.newRoom(alice, "Other")
		h.addMember(alice, room, "bob")

		empty := h.expect(h.as(bob, "GET", roomPath(room, "/messages"), nil), 200)
		if empty.Body["count"] != float64(0) || len(results(t, empty)) != 0 || empty.Body["next"] != nil {
			t.Fatalf("empty history: %s", empty.Raw)
		}

		// What is stored is the cleaned text, with its author and time.
		msg, err := h.club.PostChatMessage(ctx, room, alice.ID, "  <b>Hello</b> &amp; <script>alert(1)</script>welcome\n")
		if err != nil {
			t.Fatal(err)
		}
		if msg.Body != "Hello & welcome" || msg.Username != "alice" || msg.RoomID != room || msg.UserID != alice.ID || msg.ID < 1 || msg.CreatedAt.Location() != time.UTC {
			t.Fatalf("posted: %+v", msg)
		}
		r := h.expect(h.as(bob, "GET", roomPath(room, "/messages"), nil), 200)
		got := results(t, r)
		if len(got) != 1 || got[0]["message"] != "Hello & welcome" || got[0]["user"] != "alice" || got[0]["room_id"] != float64(room) || got[0]["id"] != float64(msg.ID) {
			t.Fatalf("history: %s", r.Raw)
		}
		if at := utcTime(t, got[0]["timestamp"]); !at.Equal(msg.CreatedAt) {
			t.Fatalf("timestamp %v, posted at %v", at, msg.CreatedAt)
		}

		// Refused texts store nothing and are not membership errors.
		for _, text := range []string{"", "   ", "<b></b>", "<script>x</script>", strings.Repeat("x", 1001), "nul\x00", "bidi\u202e", "&#1;", "\xff"} {
			if _, err := h.club.PostChatMessage(ctx, room, alice.ID, text); err == nil || errors.Is(err, bookclub.ErrNotMember) || err.Error() == "" {
				t.Fatalf("%q: %v", text, err)
			}
		}
		// Strangers, unknown rooms and odd ids are not members.
		for _, c := range []struct {
			room int64
			user string
		}{{room, eve.ID}, {room + 1000, alice.ID}, {0, alice.ID}, {-1, alice.ID}, {room, ""}, {room, "no-such-id"}} {
			if _, err := h.club.PostChatMessage(ctx, c.room, c.user, "hi"); !errors.Is(err, bookclub.ErrNotMember) {
				t.Fatalf("room %d user %q: %v", c.room, c.user, err)
			}
			if ok, err := h.club.IsRoomMember(ctx, c.room, c.user); ok || err != nil {
				t.Fatalf("member room %d user %q: %v %v", c.room, c.user, ok, err)
			}
		}
		if ok, err := h.club.IsRoomMember(ctx, room, bob.ID); !ok || err != nil {
			t.Fatalf("bob is a member: %v %v", ok, err)
		}
		if r := h.expect(h.as(bob, "GET", roomPath(room, "/messages"), nil), 200); r.Body["count"] != float64(1) {
			t.Fatalf("refused messages were stored: %s", r.Raw)
		}

		// Many messages, then every page by cursor: newest first, each
		// once, the count of the room's messages on every page.
		want := []int64{msg.ID}
		for i := range 60 {
			who := alice
			if i%3 == 0 {
				who = bob
			}
			want = append(want, h.post(who, room, "message "+strconv.Itoa(i)))
		}
		h.post(alice, other, "elsewhere")
		slices.Reverse(want)
		var seen []int64
		path := roomPath(room, "/messages?page_size=7")
		for page := 1; ; page++ {
			r := h.expect(h.as(bob, "GET", path, nil), 200)
			if r.Body["count"] != float64(61) || r.Body["page"] != float64(page) || r.Body["page_size"] != float64(7) {
				t.Fatalf("page %d: %s", page, r.Raw)
			}
			seen = append(seen, ids(t, r)...)
			next, _ := r.Body["next"].(string)
			if next == "" {
				break
			}
			path = roomPath(room, "/messages?cursor="+url.QueryEscape(next))
		}
		if !slices.Equal(seen, want) {
			t.Fatalf("pages %v, want %v", seen, want)
		}
		if r := h.expect(h.as(bob, "GET", roomPath(room, "/messages?page=3&page_size=10"), nil), 200); !slices.Equal(ids(t, r), want[20:30]) {
			t.Fatalf("page 3: %s", r.Raw)
		}
		if r := h.expect(h.as(bob, "GET", roomPath(room, "/messages?page_size=1000"), nil), 200); r.Body["page_size"] != float64(100) || len(results(t, r)) != 61 {
			t.Fatalf("clamped: %s", r.Raw)
		}

		// A cursor belongs to its room's history; tampered ones are 400.
		first := h.expect(h.as(alice, "GET", roomPath(room, "/messages?page_size=5"), nil), 200)
		cursor := first.Body["next"].(string)
		h.expectFields(h.as(alice, "GET", roomPath(other, "/messages?cursor="+url.QueryEscape(cursor)), nil), "cursor")
		h.expectFields(h.as(alice, "GET", "/api/chat/rooms?cursor="+url.QueryEscape(cursor), nil), "cursor")
		h.expectFields(h.as(alice, "GET", roomPath(room, "/messages?page=2&cursor="+url.QueryEscape(cursor)), nil), "cursor")
		forge := func(change func(c map[string]any)) string {
			raw, err := base64.RawURLEncoding.DecodeString(cursor)
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
			"x", "%00", strings.Repeat("A", 600), base64.RawURLEncoding.EncodeToString([]byte(`{"p":2}`)),
			forge(func(c map[string]any) { c["k"] = []any{"1 OR 1=1"} }),
			forge(func(c map[string]any) { c["k"] = []any{1e30} }),
			forge(func(c map[string]any) { c["k"] = []any{1.5} }),
			forge(func(c map[string]any) { c["k"] = []any{1, 2} }),
			forge(func(c map[string]any) { c["k"] = nil }),
			forge(func(c map[string]any) { c["s"] = 101 }),
			forge(func(c map[string]any) { c["p"] = 1 }),
			forge(func(c map[string]any) { c["o"] = "" }),
			forge(func(c map[string]any) { c["extra"] = true }),
		} {
			h.expectFields(h.as(alice, "GET", roomPath(room, "/messages?cursor="+bad), nil), "cursor")
		}
		for _, bad := range []string{"page=0", "page=-1", "page=x", "page=1000001", "page_size=0", "page_size=x"} {
			h.expect(h.as(alice, "GET", roomPath(room, "/messages?"+bad), nil), 400)
		}
		// A forged key only moves the start within this room: another
		// room's messages never show.
		r = h.expect(h.as(alice, "GET", roomPath(room, "/messages?cursor="+forge(func(c map[string]any) { c["k"] = []any{1 << 40} })), nil), 200)
		if got := ids(t, r); !slices.Equal(got, want[:5]) {
			t.Fatalf("forged cursor: %v", got)
		}
		// A cursor does not outlive membership.
		h.expect(h.as(alice, "DELETE", roomPath(room, "/members/bob"), nil), 204)
		h.expect(h.as(bob, "GET", roomPath(room, "/messages?cursor="+url.QueryEscape(cursor)), nil), 404)
		if _, err := h.club.PostChatMessage(ctx, room, bob.ID, "still here?"); !errors.Is(err, bookclub.ErrNotMember) {
			t.Fatalf("removed member posted: %v", err)
		}
		// A removed member's messages stay, with their author.
		r = h.expect(h.as(alice, "GET", roomPath(room, "/messages?page_size=100"), nil), 200)
		if got := results(t, r); len(got) != 61 || got[len(got)-2]["user"] != "bob" {
			t.Fatalf("after the removal: %s", r.Raw)
		}
	})
}

func TestChatRoomListPages(t *testing.T) {
	each(t, options{newLimiter: roomyLimits}, func(t *testing.T, h *harness) {
		me := h.newUser("reader", accounts.CreateOptions{})
		other := h.newUser("host", accounts.CreateOptions{})
		var want []int64
		for i := range 12 {
			owner := me
			if i%2 == 1 {
				owner = other
			}
			id := h.newRoom(owner, "Room "+strconv.Itoa(i))
			if owner == other {
				h.addMember(other, id, "reader")
			}
			want = append(want, id)
		}
		h.newRoom(other, "Not mine")
		slices.Reverse(want)
		var seen []int64
		path := "/api/chat/rooms?page_size=5"
		for {
			r := h.expect(h.as(me, "GET", path, nil), 200)
			if r.Body["count"] != float64(12) {
				t.Fatalf("count: %s", r.Raw)
			}
			seen = append(seen, ids(t, r)...)
			next, _ := r.Body["next"].(string)
			if next == "" {
				break
			}
			path = "/api/chat/rooms?cursor=" + url.QueryEscape(next)
		}
		if !slices.Equal(seen, want) {
			t.Fatalf("rooms %v, want %v", seen, want)
		}
		h.expectFields(h.as(me, "GET", "/api/chat/rooms?cursor=x", nil), "cursor")
	})
}

// status sends one request for the concurrency tests: safe to call from
// any goroutine.
func (h *harness) status(method, path string, body any, token string) (int, error) {
	raw, err := json.Marshal(body)
	if err != nil {
		return 0, err
	}
	req, err := http.NewRequest(method, h.srv.URL+path, bytes.NewReader(raw))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := h.srv.Client().Do(req)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}

// concurrently sends n requests at once and counts the answers by status.
func (h *harness) concurrently(n int, send func(i int) (int, error)) map[int]int {
	h.t.Helper()
	var wg sync.WaitGroup
	codes := make([]int, n)
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() { codes[i], errs[i] = send(i) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		h.t.Fatal(err)
	}
	out := map[int]int{}
	for _, c := range codes {
		out[c]++
	}
	return out
}

// TestChatCaps: a user creates at most MaxRoomsPerUser rooms and a room
// holds at most MaxRoomMembers members, also when requests race at the cap.
func TestChatCaps(t *testing.T) {
	each(t, options{newLimiter: roomyLimits}, func(t *testing.T, h *harness) {
		me := h.newUser("founder", accounts.CreateOptions{})
		other := h.newUser("other", accounts.CreateOptions{})
		var first int64
		for i := range bookclub.MaxRoomsPerUser - 5 {
			id := h.newRoom(me, "Room "+strconv.Itoa(i))
			if i == 0 {
				first = id
			}
		}
		// Leaving a room does not give its slot back.
		h.expect(h.as(me, "DELETE", roomPath(first, "/members/me"), nil), 204)
		got := h.concurrently(10, func(i int) (int, error) {
			return h.status("POST", "/api/chat/rooms", map[string]string{"name": "Race " + strconv.Itoa(i)}, me.Access)
		})
		if got[201] != 5 || got[409] != 5 {
			t.Fatalf("racing at the cap: %v", got)
		}
		r := h.expect(h.as(me, "POST", "/api/chat/rooms", map[string]string{"name": "One too many"}), 409)
		if r.Body["detail"] == "" {
			t.Fatalf("cap: %s", r.Raw)
		}
		if r := h.expect(h.as(me, "GET", "/api/chat/rooms?page_size=1", nil), 200); r.Body["count"] != float64(bookclub.MaxRoomsPerUser-1) {
			t.Fatalf("rooms: %s", r.Raw)
		}
		// The cap is per user; a user's first rooms, racing while no row
		// of theirs exists yet, are all created.
		got = h.concurrently(5, func(i int) (int, error) {
			return h.status("POST", "/api/chat/rooms", map[string]string{"name": "First " + strconv.Itoa(i)}, other.Access)
		})
		if got[201] != 5 {
			t.Fatalf("a new user's first rooms: %v", got)
		}

		// Members: fill a room to three below the cap behind the API's
		// back (no test creates a thousand accounts), then race three
		// additions for the last two places.
		room := h.newRoom(other, "Crowded")
		err := h.db.InTx(t.Context(), func(tx *sql.Tx) error {
			for i := range bookclub.MaxRoomMembers - 3 {
				if _, err := tx.Exec(h.db.Rebind(`INSERT INTO chat_members (room_id, user_id, added_at) VALUES (?, ?, ?)`), room, "filler-"+strconv.Itoa(i), 0); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		racers := []*member{h.newUser("racer0", accounts.CreateOptions{}), h.newUser("racer1", accounts.CreateOptions{}), h.newUser("racer2", accounts.CreateOptions{})}
		got = h.concurrently(3, func(i int) (int, error) {
			return h.status("POST", roomPath(room, "/members"), map[string]string{"username": racers[i].Name}, other.Access)
		})
		if got[204] != 2 || got[409] != 1 {
			t.Fatalf("racing for the last places: %v", got)
		}
		h.addMember(other, room, "other") // already a member: still 204
		h.expect(h.as(other, "POST", roomPath(room, "/members"), map[string]string{"username": "founder"}), 409)
		h.expect(h.as(other, "DELETE", roomPath(room, "/members/filler-0"), nil), 404) // no such account
		var in []*member
		for _, m := range racers {
			if ok, _ := h.club.IsRoomMember(t.Context(), room, m.ID); ok {
				in = append(in, m)
			}
		}
		h.expect(h.as(in[0], "DELETE", roomPath(room, "/members/me"), nil), 204)
		h.addMember(other, room, "founder")
	})
}

// TestChatRoomCreationIsLimited: room creation has its own per-user
// limit (chat_rooms), which answers 429 with Retry-After.
func TestChatRoomCreationIsLimited(t *testing.T) {
	h := newHarness(t, sqliteEngine(), options{})
	me := h.newUser("busy", accounts.CreateOptions{})
	other := h.newUser("calm", accounts.CreateOptions{})
	var last response
	for range 11 {
		if last = h.as(me, "POST", "/api/chat/rooms", map[string]string{"name": "Again"}); last.Status != 201 {
			break
		}
	}
	if last.Status != 429 || last.Header.Get("Retry-After") == "" {
		t.Fatalf("11 rooms: %d %v %s", last.Status, last.Header, last.Raw)
	}
	h.expect(h.as(me, "GET", "/api/chat/rooms", nil), 200) // reading is not creating
	room := int64(results(t, h.as(me, "GET", "/api/chat/rooms", nil))[0]["id"].(float64))
	h.addMember(me, room, "calm") // membership writes have their own limit
	h.newRoom(other, "Mine")
}

func TestChatRoutesAreDocumented(t *testing.T) {
	h := newHarness(t, sqliteEngine(), options{})
	want := map[string]bool{
		"GET /api/chat/rooms": true, "POST /api/chat/rooms": true, "POST /api/chat/rooms/{id}/members": true,
		"DELETE /api/chat/rooms/{id}/members/{username}": true, "GET /api/chat/rooms/{id}/messages": true,
	}
	for _, ri := range h.router.Routes() {
		key := ri.Method + " " + ri.Pattern
		if !want[key] {
			continue
		}
		delete(want, key)
		if ri.Operation == nil || len(ri.Auth) != 1 || !ri.NoStore || ri.Public {
			t.Errorf("%s: %+v", key, ri)
		}
		if ri.Method != http.MethodGet && len(ri.Limits) == 0 {
			t.Errorf("%s: no write limit", key)
		}
	}
	if len(want) > 0 {
		t.Fatalf("routes missing: %v", want)
	}
}

func TestChatText(t *testing.T) {
	long := strings.Repeat("é", bookclub.MaxChatChars)
	for in, want := range map[string]string{
		"hello":                       "hello",
		"  padded \n":                 "padded",
		"two\nlines\tand tab":         "two\nlines\tand tab",
		"<b>bold</b> &amp; <i>it</i>": "bold & it",
		"<script>alert(1)</script>hi": "hi",
		"1 < 2 > 0":                   "1 < 2 > 0",
		"&lt;b&gt;x&lt;/b&gt;":        "x",
		"<p>" + long + "</p>":         long,
		"😀":                           "😀",
	} {
		got, err := bookclub.ChatText(in)
		if err != nil || got != want {
			t.Errorf("%q: %q %v, want %q", in, got, err, want)
		}
	}
	for _, in := range []string{
		"", " \n\t ", "<b></b>", "<script>alert(1)</script>", "<!-- only a comment -->", "<img src=x onerror=alert(1)>",
		long + "x", strings.Repeat("a", 20<<10), "<b>" + strings.Repeat("a", 16<<10) + "</b>",
		"nul\x00", "bell\a", "rtl\u202eoverride", "isolate\u2066x", "&#1;", "&#x202e;x", "\xff\xfe", "a\xc0",
	} {
		if got, err := bookclub.ChatText(in); err == nil || err.Error() == "" || got != "" {
			t.Errorf("%q: %q %v, want an error", in, got, err)
		}
	}
}

// FuzzChatText: whatever a client sends, an accepted message is 1 to 1000
// characters of valid UTF-8 with nothing that parses as markup, no control
// character but line breaks and tabs, and no bidirectional override.
func FuzzChatText(f *testing.F) {
	for _, s := range []string{
		"hello", "<b>x</b>", "&lt;script&gt;", "&amp;lt;b&amp;gt;", "<scr<script>ipt>", "a < b", "<a", "x <!--", "</x", "<!DOCTYPE html>",
		"&#60;img src=x&#62;", "<<b>b>", "\u202e", "&#x1;", strings.Repeat("é", 1000), strings.Repeat("<b>", 300),
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		out, err := bookclub.ChatText(in)
		if err != nil {
			if out != "" || err.Error() == "" {
				t.Fatalf("%q: refused with %q, %q", in, out, err)
			}
			return
		}
		if out == "" || utf8.RuneCountInString(out) > bookclub.MaxChatChars || !utf8.ValidString(out) {
			t.Fatalf("%q: %q", in, out)
		}
		if strings.TrimSpace(out) != out {
			t.Fatalf("%q: not trimmed: %q", in, out)
		}
		for _, r := range out {
			if unicode.IsControl(r) && r != '\n' && r != '\r' && r != '\t' || r >= 0x202a && r <= 0x202e || r >= 0x2066 && r <= 0x2069 {
				t.Fatalf("%q: %q holds %U", in, out, r)
			}
		}
		z := html.NewTokenizer(strings.NewReader(out))
		for {
			switch tt := z.Next(); tt {
			case html.ErrorToken:
				return
			case html.TextToken:
			default:
				t.Fatalf("%q: %q holds markup (%v %q)", in, out, tt, z.Raw())
			}
		}
	})
}
