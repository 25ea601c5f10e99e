package accounts_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wardenhq/warden/internal/logtest"

	"github.com/wardenhq/warden"
	"github.com/wardenhq/warden/auth"
	"github.com/wardenhq/warden/internal/accounts"
	"github.com/wardenhq/warden/internal/mail"
	"github.com/wardenhq/warden/internal/store"
	"github.com/wardenhq/warden/internal/storetest"
	"github.com/wardenhq/warden/password"
	"github.com/wardenhq/warden/ratelimit"
	"github.com/wardenhq/warden/revoke"
	"github.com/wardenhq/warden/revoke/sqlrevoke"
	"github.com/wardenhq/warden/secure"
)

var testSecret = []byte("accounts-test-secret-that-is-long-enough")

// trustedOrigin is the one other origin the harness trusts with the
// session cookie (as WARDEN_CORS_ALLOWED_ORIGINS does).
const trustedOrigin = "https://app.example.com"

// clock is a shared adjustable clock for the service, the signer and the
// verifier.
// A frozen clock (base set) moves only by Advance, for tests whose
// expectations must not depend on how long hashing takes.
type clock struct{ offset, base atomic.Int64 }

func (c *clock) Now() time.Time {
	if b := c.base.Load(); b != 0 {
		return time.Unix(0, b).Add(time.Duration(c.offset.Load()))
	}
	return time.Now().Add(time.Duration(c.offset.Load()))
}
func (c *clock) Advance(d time.Duration) { c.offset.Add(int64(d)) }

type harness struct {
	t      testing.TB
	srv    *httptest.Server
	svc    *accounts.Service
	hasher *password.Hasher
	outbox string
	logs   *logtest.Buffer
	clock  *clock
}

type options struct {
	grace       time.Duration
	authPerMin  int
	hashBudget  int64
	hashMaxWait time.Duration
	engine      storetest.Engine
	// smtpURL sends mail over SMTP instead of to the outbox.
	smtpURL string
	// trustLoopbackProxy believes X-Forwarded-For from the test client,
	// so that a test can choose its client address.
	trustLoopbackProxy bool
	// failures replaces the database's failed-login counter.
	failures accounts.FailureCounter
	// hashesPerKey is Config.HashesPerKey.
	hashesPerKey int
	// frozenClock stops the clock but for Advance.
	frozenClock bool
	// db replaces the database the harness opens on engine (oracle tests
	// count its statements); jobQueue is Config.JobQueue.
	db       *store.DB
	jobQueue int
	// sqlRevocation keeps the revocation list in the database
	// (revoke/sqlrevoke), as warden serve does without Redis, instead of
	// in memory.
	sqlRevocation bool
}

func newHarness(t testing.TB, o options) *harness {
	t.Helper()
	dir := t.TempDir()
	h := &harness{t: t, logs: &logtest.Buffer{}, clock: &clock{}, outbox: filepath.Join(dir, "outbox")}
	if o.frozenClock {
		h.clock.base.Store(time.Now().UnixNano())
	}
	logger := slog.New(slog.NewJSONHandler(h.logs, nil))
	db := o.db
	var err error
	if db == nil {
		if db, err = store.Open(context.Background(), o.engine.NewURL(t)); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() { db.Close() })
	if err := accounts.Migrate(context.Background(), db); err != nil {
		t.Fatal(err)
	}
	budget := o.hashBudget
	if budget == 0 {
		budget = 256 << 20
	}
	h.hasher, err = password.NewHasher(password.Options{MemoryBudget: budget, MaxWait: o.hashMaxWait})
	if err != nil {
		t.Fatal(err)
	}
	var mailer mail.Mailer
	if o.smtpURL != "" {
		mailer, err = mail.NewSMTP(o.smtpURL, "warden@localhost", logger)
	} else {
		mailer, err = mail.NewOutbox(h.outbox, "warden@localhost", logger)
	}
	if err != nil {
		t.Fatal(err)
	}
	var revocation revoke.Store = revoke.NewMemory(revoke.MemoryOptions{Now: h.clock.Now})
	if o.sqlRevocation {
		if err := db.Migrate(context.Background(), "revocations", sqlrevoke.Migrations); err != nil {
			t.Fatal(err)
		}
		list, err := sqlrevoke.New(db.DB, db.Dialect, sqlrevoke.Options{Now: h.clock.Now})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { list.Close() })
		revocation = list
	}
	verifier, err := auth.NewJWT(auth.JWTConfig{
		Keys:   []auth.JWTKey{{ID: "warden", Algorithm: "HS256", Secret: testSecret}},
		Issuer: "warden", Audience: "warden", Type: "at+jwt", Revocation: revocation, Now: h.clock.Now,
	})
	if err != nil {
		t.Fatal(err)
	}
	// Browser mode as the server sets it up: one CSRF protection for the
	// router (every request with the session cookie) and for cookie-mode
	// logins, trusting the one allowed origin.
	csrf, err := secure.NewCSRF(secure.CSRFOptions{TrustedOrigins: []string{trustedOrigin}, Cookies: []string{accounts.SessionCookie}})
	if err != nil {
		t.Fatal(err)
	}
	perMin := o.authPerMin
	if perMin == 0 {
		perMin = 10000
	}
	grace := o.grace
	if grace == 0 {
		grace = 5 * time.Second
	}
	h.svc, err = accounts.New(accounts.Config{
		DB: db, Hasher: h.hasher, Mailer: mailer, PublicURL: "https://books.example.com",
		Signer:       &auth.Signer{KeyID: "warden", Algorithm: "HS256", Key: testSecret, Issuer: "warden", Audience: "warden", Now: h.clock.Now},
		JWT:          verifier,
		Logger:       logger,
		RefreshGrace: grace,
		AuthRate:     ratelimit.Policy{Name: "auth", Rate: float64(perMin) / 60, Burst: perMin},
		Failures:     o.failures,
		HashesPerKey: o.hashesPerKey,
		JobQueue:     o.jobQueue,
		CSRF:         csrf,
		Now:          h.clock.Now,
	})
	if err != nil {
		t.Fatal(err)
	}
	rcfg := warden.Config{Logger: logger, CSRF: csrf}
	if o.trustLoopbackProxy {
		if rcfg.TrustedProxies, err = secure.ParseTrustedProxies("127.0.0.1,::1"); err != nil {
			t.Fatal(err)
		}
	}
	r, err := warden.NewRouter(rcfg)
	if err != nil {
		t.Fatal(err)
	}
	keys, err := auth.NewAPIKeys(auth.APIKeysConfig{Sources: []auth.APIKeySource{h.svc.APIKeySource()}})
	if err != nil {
		t.Fatal(err)
	}
	if err := h.svc.Mount(r, keys); err != nil {
		t.Fatal(err)
	}
	h.srv = httptest.NewServer(r)
	t.Cleanup(func() {
		h.srv.Close()
		h.svc.Wait()
	})
	return h
}

type response struct {
	Status int
	Header http.Header
	Body   map[string]any
	Raw    string
}

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

// expect fails the test unless r has status.
func (h *harness) expect(r response, status int) response {
	h.t.Helper()
	if r.Status != status {
		h.t.Fatalf("status %d, want %d: %s", r.Status, status, r.Raw)
	}
	return r
}

var tokenInLink = regexp.MustCompile(`token=([A-Za-z0-9_-]{20,})`)

// mails returns the decoded bodies of the outbox messages to addr.
func (h *harness) mails(addr string) []string {
	h.t.Helper()
	h.svc.Wait()
	return h.mailsNow(addr)
}

// mailsNow is mails without waiting for queued mail.
func (h *harness) mailsNow(addr string) []string {
	h.t.Helper()
	entries, _ := os.ReadDir(h.outbox)
	var out []string
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".eml") || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		raw, err := os.ReadFile(filepath.Join(h.outbox, e.Name()))
		if err != nil {
			h.t.Fatal(err)
		}
		// Undo quoted-printable soft breaks and escapes enough to read links.
		text := strings.NewReplacer("=\r\n", "", "=\n", "", "=3D", "=").Replace(string(raw))
		if strings.Contains(text, "To: <"+addr+">") || strings.Contains(text, "To: "+addr) {
			out = append(out, text)
		}
	}
	return out
}

// lastToken returns the token in the newest mail to addr whose text
// contains path.
func (h *harness) lastToken(addr, path string) string {
	h.t.Helper()
	ms := h.mails(addr)
	for i := len(ms) - 1; i >= 0; i-- {
		if strings.Contains(ms[i], path) {
			if m := tokenInLink.FindStringSubmatch(ms[i]); m != nil {
				return m[1]
			}
		}
	}
	h.t.Fatalf("no mail to %s with %s among %d", addr, path, len(ms))
	return ""
}

const goodPassword = "correct horse battery staple"

// registerVerified registers name and verifies the address; it returns the
// login tokens from verification.
func (h *harness) registerVerified(name string) (access, refresh string) {
	h.t.Helper()
	email := name + "@example.com"
	h.expect(h.call("POST", "/api/auth/register", map[string]string{"username": name, "email": email, "password": goodPassword}, ""), 201)
	r := h.expect(h.call("POST", "/api/auth/verify-email", map[string]string{"token": h.lastToken(email, "/verify-email")}, ""), 200)
	return r.Body["access"].(string), r.Body["refresh"].(string)
}

func (h *harness) login(name, pw string) response {
	h.t.Helper()
	return h.call("POST", "/api/auth/login", map[string]string{"username": name, "password": pw}, "")
}
