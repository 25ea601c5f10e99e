package accounts_test

import (
	"context"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/wardenhq/warden/auth"
	"github.com/wardenhq/warden/internal/accounts"
	"github.com/wardenhq/warden/internal/mail"
	"github.com/wardenhq/warden/internal/storetest"
	"github.com/wardenhq/warden/revoke"
)

// expiredLogins leaves behind, for the user name, expired sessions with
// used and unused refresh tokens, expired verification and reset tokens;
// then it advances the clock past their expiry and the purge margin.
func (h *harness) expiredLogins(name string) {
	h.t.Helper()
	_, r := h.registerVerified(name)
	for range 3 { // a chain of used tokens
		r = h.expect(h.call("POST", "/api/auth/refresh", map[string]string{"refresh": r}, ""), 200).Body["refresh"].(string)
	}
	h.expect(h.login(name, goodPassword), 200)
	h.expect(h.call("POST", "/api/auth/password-reset", map[string]string{"email": name + "@example.com"}, ""), 200)
	h.mails(name + "@example.com") // the reset mail is out
	h.clock.Advance(7*24*time.Hour + 2*time.Hour)
}

// TestPurgeDeletesOnlyExpiredRows runs the service's purge over expired
// and live rows on every engine: the expired ones go, in batches, and the
// live login, its refresh token and a live reset link keep working.
func TestPurgeDeletesOnlyExpiredRows(t *testing.T) {
	storetest.Each(t, func(t *testing.T, e storetest.Engine) {
		h := newHarness(t, options{engine: e})
		h.expiredLogins("uma")
		expiredSessions := h.countRows("sessions", "")
		// A live login, a live reset link, and a refreshed chain.
		live := h.expect(h.login("uma", goodPassword), 200).Body
		liveRefresh := h.expect(h.call("POST", "/api/auth/refresh", map[string]string{"refresh": live["refresh"].(string)}, ""), 200).Body["refresh"].(string)
		h.expect(h.call("POST", "/api/auth/password-reset", map[string]string{"email": "uma@example.com"}, ""), 200)
		liveReset := h.lastToken("uma@example.com", "/reset-password")

		h.svc.SetPurgeBatchForTest(2)
		res, err := h.svc.Purge(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if res.Sessions != int64(expiredSessions) || res.Sessions != 2 || res.RefreshTokens != 5 || res.OneTimeTokens != 2 {
			t.Fatalf("purged %+v; want the 2 expired sessions, their 5 refresh tokens and 2 one-time tokens", res)
		}
		if n := h.countRows("sessions", ""); n != 1 {
			t.Fatalf("%d sessions left, want the live one", n)
		}
		if n := h.countRows("refresh_tokens", ""); n != 2 {
			t.Fatalf("%d refresh tokens left, want the live login's 2", n)
		}
		if n := h.countRows("one_time_tokens", ""); n != 1 {
			t.Fatalf("%d one-time tokens left, want the live reset", n)
		}
		h.expect(h.call("GET", "/api/auth/me", nil, live["access"].(string)), 200)
		h.expect(h.call("POST", "/api/auth/refresh", map[string]string{"refresh": liveRefresh}, ""), 200)
		h.expect(h.call("POST", "/api/auth/password-reset/confirm", map[string]string{"token": liveReset, "password": "a brand new passphrase"}, ""), 200)

		// Nothing left to purge.
		if res, err := h.svc.Purge(context.Background()); err != nil || res.Total() != 0 {
			t.Fatalf("second purge %+v, %v", res, err)
		}
	})
}

// TestPurgeMargin keeps rows for an hour past their expiry: an instance
// whose clock runs behind may still take them for live.
func TestPurgeMargin(t *testing.T) {
	storetest.Each(t, func(t *testing.T, e storetest.Engine) {
		h := newHarness(t, options{engine: e})
		h.registerVerified("vic")
		h.clock.Advance(7*24*time.Hour + 30*time.Minute) // expired, within the margin
		if res, err := h.svc.Purge(context.Background()); err != nil || res.Sessions != 0 || res.RefreshTokens != 0 {
			t.Fatalf("purged %+v (%v) inside the margin", res, err)
		}
		h.clock.Advance(time.Hour)
		if res, err := h.svc.Purge(context.Background()); err != nil || res.Sessions != 1 || res.RefreshTokens != 1 {
			t.Fatalf("purged %+v (%v) after the margin", res, err)
		}
	})
}

// TestBackgroundPurge starts a second service on the harness's database
// with a short interval, waits for it to purge, and stops it with Close.
func TestBackgroundPurge(t *testing.T) {
	storetest.Each(t, func(t *testing.T, e storetest.Engine) {
		h := newHarness(t, options{engine: e})
		h.expiredLogins("wes")
		logger := slog.New(slog.NewJSONHandler(h.logs, nil))
		mailer, err := mail.NewOutbox(filepath.Join(t.TempDir(), "outbox"), "warden@localhost", logger)
		if err != nil {
			t.Fatal(err)
		}
		verifier, err := auth.NewJWT(auth.JWTConfig{
			Keys:   []auth.JWTKey{{ID: "warden", Algorithm: "HS256", Secret: testSecret}},
			Issuer: "warden", Audience: "warden", Type: "at+jwt", Revocation: revoke.NewMemory(revoke.MemoryOptions{}),
		})
		if err != nil {
			t.Fatal(err)
		}
		svc, err := accounts.New(accounts.Config{
			DB: h.svc.DBForTest(), Hasher: h.hasher, Mailer: mailer, PublicURL: "https://books.example.com",
			Signer: &auth.Signer{KeyID: "warden", Algorithm: "HS256", Key: testSecret, Issuer: "warden", Audience: "warden"},
			JWT:    verifier, Logger: logger, Now: h.clock.Now, PurgeInterval: 20 * time.Millisecond,
		})
		if err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(10 * time.Second)
		for h.countRows("sessions", "") != 0 {
			if time.Now().After(deadline) {
				svc.Close()
				t.Fatal("the background purge did not run")
			}
			time.Sleep(20 * time.Millisecond)
		}
		done := make(chan struct{})
		go func() { svc.Close(); svc.Close(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatal("Close did not stop the purge")
		}
	})
}

// TestPurgeDeletesExpiredDevicesAndLapsedRegistrations: devices unused
// past their life and registrations never verified in time go too, and
// the lapsed registration's username is free again.
func TestPurgeDeletesExpiredDevicesAndLapsedRegistrations(t *testing.T) {
	storetest.Each(t, func(t *testing.T, e storetest.Engine) {
		h := newHarness(t, options{engine: e})
		h.registerVerified("vic")
		if d, _ := h.expect(h.login("vic", goodPassword), 200).Body["device"].(string); d == "" {
			t.Fatal("login answered no device")
		}
		h.expect(h.call("POST", "/api/auth/register", map[string]string{"username": "wes", "email": "wes@example.com", "password": goodPassword}, ""), 201)
		h.mails("wes@example.com") // the registration job has run
		if h.countRows("devices", "") == 0 {
			t.Fatal("no device stored")
		}
		h.clock.Advance(91*24*time.Hour + 2*time.Hour)
		res, err := h.svc.Purge(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if res.Devices < 1 || res.Registrations != 1 {
			t.Fatalf("purged %+v; want the expired device and wes's lapsed registration", res)
		}
		if n := h.countRows("devices", ""); n != 0 {
			t.Fatalf("%d devices left", n)
		}
		h.expect(h.call("POST", "/api/auth/register", map[string]string{"username": "wes", "email": "wes2@example.com", "password": goodPassword}, ""), 201)
	})
}
