package bookclub_test

// The shared test harness of the book club: a real router with the
// accounts routes and the book club mounted, on a real database of one
// storetest engine, driven over HTTP. Books and social tests both build
// on it; add options and helpers here rather than a second harness.

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wardenhq/warden"
	"github.com/wardenhq/warden/auth"
	"github.com/wardenhq/warden/files"
	"github.com/wardenhq/warden/guard"
	"github.com/wardenhq/warden/internal/accounts"
	"github.com/wardenhq/warden/internal/bookclub"
	"github.com/wardenhq/warden/internal/logtest"
	"github.com/wardenhq/warden/internal/mail"
	"github.com/wardenhq/warden/internal/store"
	"github.com/wardenhq/warden/internal/storetest"
	"github.com/wardenhq/warden/password"
	"github.com/wardenhq/warden/ratelimit"
	"github.com/wardenhq/warden/revoke"
	"github.com/wardenhq/warden/sse"
	"github.com/wardenhq/warden/ws"
)

var testSecret = []byte("bookclub-test-secret-that-is-long-enough")

// goodPassword is every harness user's password.
const goodPassword = "correct horse battery staple"

// clock is a shared adjustable clock for both services, the signer and
// the verifier.
type clock struct{ offset atomic.Int64 }

func (c *clock) Now() time.Time          { return time.Now().Add(time.Duration(c.offset.Load())) }
func (c *clock) Advance(d time.Duration) { c.offset.Add(int64(d)) }

type harness struct {
	t        testing.TB
	srv      *httptest.Server
	db       *store.DB
	accounts *accounts.Service
	club     *bookclub.Service
	router   *warden.Router
	logs     *logtest.Buffer
	clock    *clock
	outbox   string
	// mediaDir is the media directory: the book club stores avatars in it
	// and the router serves it at GET /media/{path...}, as the server does.
	mediaDir string
}

// options change the harness; the zero value is what most tests want.
type options struct {
	// throttle is the router's Config.Throttle (none when nil).
	throttle func(http.Handler) http.Handler
	// newLimiter is the book club's Config.NewLimiter (the in-memory
	// default when nil); roomyLimits lifts the per-user write limits for
	// tests that send many writes as one user.
	newLimiter func(ratelimit.Policy) (ratelimit.Limiter, error)
	// sockets and streams replace the book club's default WebSocket and
	// event-stream servers (caps, timeouts).
	sockets *ws.Server
	streams *sse.Server
}

// roomyLimits builds every limiter with a burst no test exhausts, keeping
// the policy's name.
func roomyLimits(p ratelimit.Policy) (ratelimit.Limiter, error) {
	return ratelimit.NewMemory(ratelimit.Policy{Name: p.Name, Rate: 1000, Burst: 100000}, ratelimit.MemoryOptions{})
}

// newHarness migrates a fresh database of engine e (accounts, then the
// book club, as the server does) and serves both features' routes.
func newHarness(t testing.TB, e storetest.Engine, o options) *harness {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	h := &harness{t: t, logs: &logtest.Buffer{}, clock: &clock{}, outbox: filepath.Join(dir, "outbox"), mediaDir: filepath.Join(dir, "media")}
	logger := slog.New(slog.NewJSONHandler(h.logs, nil))
	db, err := store.Open(ctx, e.NewURL(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	h.db = db
	if err := accounts.Migrate(ctx, db); err != nil {
		t.Fatal(err)
	}
	if err := bookclub.Migrate(ctx, db); err != nil {
		t.Fatal(err)
	}
	hasher, err := password.NewHasher(password.Options{MemoryBudget: 256 << 20})
	if err != nil {
		t.Fatal(err)
	}
	mailer, err := mail.NewOutbox(h.outbox, "warden@localhost", logger)
	if err != nil {
		t.Fatal(err)
	}
	verifier, err := auth.NewJWT(auth.JWTConfig{
		Keys:   []auth.JWTKey{{ID: "warden", Algorithm: "HS256", Secret: testSecret}},
		Issuer: "warden", Audience: "warden", Type: "at+jwt",
		Revocation: revoke.NewMemory(revoke.MemoryOptions{Now: h.clock.Now}), Now: h.clock.Now,
	})
	if err != nil {
		t.Fatal(err)
	}
	h.accounts, err = accounts.New(accounts.Config{
		DB: db, Hasher: hasher, Mailer: mailer, PublicURL: "https://books.example.com",
		Signer:   &auth.Signer{KeyID: "warden", Algorithm: "HS256", Key: testSecret, Issuer: "warden", Audience: "warden", Now: h.clock.Now},
		JWT:      verifier,
		Logger:   logger,
		AuthRate: ratelimit.Policy{Name: "auth", Rate: 1000, Burst: 10000},
		Now:      h.clock.Now,
	})
	if err != nil {
		t.Fatal(err)
	}
	media, err := files.OpenStore(h.mediaDir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { media.Close() })
	mediaServer, err := files.NewServer(h.mediaDir, files.Options{Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { mediaServer.Close() })
	h.club, err = bookclub.New(bookclub.Config{
		DB: db, Accounts: h.accounts, Bearer: h.accounts.Authenticator(), Logger: logger, Now: h.clock.Now,
		NewLimiter: o.newLimiter, Media: media, Sockets: o.sockets, Streams: o.streams,
	})
	if err != nil {
		t.Fatal(err)
	}
	// RequireDocs as the server sets it: a route without a description
	// fails here rather than in internal/app.
	h.router, err = warden.NewRouter(warden.Config{Logger: logger, RequireDocs: true, Throttle: o.throttle})
	if err != nil {
		t.Fatal(err)
	}
	if err := h.accounts.Mount(h.router, nil); err != nil {
		t.Fatal(err)
	}
	if err := h.club.Mount(h.router); err != nil {
		t.Fatal(err)
	}
	// The media route as internal/app mounts it (public, unthrottled).
	h.router.Handle("GET", bookclub.MediaURLPrefix+"{path...}", mediaServer, warden.Require(guard.AllowAny), warden.Unthrottled(),
		warden.Doc(warden.Operation{Summary: "A stored file", Responses: map[int]any{200: warden.Response{Body: "", ContentType: "image/png"}}}))
	if err := h.club.Start(ctx); err != nil {
		t.Fatal(err)
	}
	h.srv = httptest.NewServer(h.router)
	t.Cleanup(func() {
		h.srv.Close()
		h.accounts.Wait()
		h.club.Close()
	})
	// Runs first: open sockets and event streams end, so that srv.Close
	// does not wait for them.
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		h.club.Shutdown(ctx)
	})
	return h
}

// member is a signed-in harness user.
type member struct {
	ID, Name        string
	Access, Refresh string
}

// newUser creates a verified account name (with opts: staff, admin,
// permissions) through the operator's path and logs it in over HTTP.
func (h *harness) newUser(name string, opts accounts.CreateOptions) *member {
	h.t.Helper()
	opts.Verified = true
	u, err := h.accounts.CreateUser(context.Background(), accounts.RegisterInput{
		Username: name, Email: name + "@example.com", Password: goodPassword,
	}, opts)
	if err != nil {
		h.t.Fatalf("create %s: %v", name, err)
	}
	m := &member{ID: u.ID, Name: u.Username}
	h.login(m)
	return m
}

// login logs m in again, replacing its tokens: the new access token
// carries the user's stored permissions as they are now.
func (h *harness) login(m *member) {
	h.t.Helper()
	r := h.expect(h.call("POST", "/api/auth/login", map[string]string{"username": m.Name, "password": goodPassword}, ""), 200)
	m.Access, m.Refresh = r.Body["access"].(string), r.Body["refresh"].(string)
}

// refresh rotates m's refresh token, replacing both tokens.
func (h *harness) refresh(m *member) {
	h.t.Helper()
	r := h.expect(h.call("POST", "/api/auth/refresh", map[string]string{"refresh": m.Refresh}, ""), 200)
	m.Access, m.Refresh = r.Body["access"].(string), r.Body["refresh"].(string)
}

// token is m's access token, or "" for a nil member (anonymous).
func (m *member) token() string {
	if m == nil {
		return ""
	}
	return m.Access
}

type response struct {
	Status int
	Header http.Header
	Body   map[string]any
	Raw    string
}

// call sends one request: body is nil, a string sent as is, or a value
// encoded as JSON; token, when not empty, is sent as a bearer token; extra
// holds header name/value pairs.
func (h *harness) call(method, path string, body any, token string, extra ...string) response {
	h.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			h.t.Fatal(err)
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, h.srv.URL+path, rd)
	if err != nil {
		h.t.Fatal(err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(extra); i += 2 {
		req.Header.Set(extra[i], extra[i+1])
	}
	resp, err := h.srv.Client().Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	out := response{Status: resp.StatusCode, Header: resp.Header, Raw: string(raw)}
	_ = json.Unmarshal(raw, &out.Body)
	return out
}

// as calls with m's token (anonymously for a nil m).
func (h *harness) as(m *member, method, path string, body any) response {
	h.t.Helper()
	return h.call(method, path, body, m.token())
}

// expect fails the test unless r has status.
func (h *harness) expect(r response, status int) response {
	h.t.Helper()
	if r.Status != status {
		h.t.Fatalf("status %d, want %d: %s", r.Status, status, r.Raw)
	}
	return r
}

// each runs fn on a fresh harness per engine (SQLite always; MySQL and
// PostgreSQL when their test DSNs are set).
func each(t *testing.T, o options, fn func(t *testing.T, h *harness)) {
	storetest.Each(t, func(t *testing.T, e storetest.Engine) {
		fn(t, newHarness(t, e, o))
	})
}

// sqliteEngine is the engine every environment has, for tests that need
// one harness rather than one per engine.
func sqliteEngine() storetest.Engine { return storetest.Engines()[0] }
