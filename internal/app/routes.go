package app

import (
	"encoding/json"
	"io"
	"net/http"

	"github.com/wardenhq/warden"
	"github.com/wardenhq/warden/auth"
	"github.com/wardenhq/warden/guard"
	"github.com/wardenhq/warden/problem"
	"github.com/wardenhq/warden/ratelimit"
	"github.com/wardenhq/warden/secure"
)

// DemoPermission is the permission the permission-guarded demo route needs.
const DemoPermission = "demo.read"

// routes is the route table: each line says who may call what.
func (a *App) routes() error {
	r := a.router
	r.Get("/healthz", http.HandlerFunc(healthz))
	r.Get("/readyz", http.HandlerFunc(a.readyz))

	// Demonstration routes: one per pipeline option, to try with curl.
	jwtOnly := warden.Auth(a.jwt)
	anyBackend := warden.Auth(a.backends()...)
	limited, err := a.newLimiter(ratelimit.Policy{Name: "demo", Rate: 1, Burst: 5})
	if err != nil {
		return err
	}
	r.Get("/api/demo/public", http.HandlerFunc(demoPublic), warden.Require(guard.AllowAny))
	r.Get("/api/demo/jwt", http.HandlerFunc(whoami), jwtOnly, warden.Require(guard.IsAuthenticated), warden.NoStore())
	r.Get("/api/demo/apikey", http.HandlerFunc(whoami), warden.Auth(a.apiKeyBackends()...), warden.Require(guard.IsAuthenticated), warden.NoStore())
	r.Get("/api/demo/permission", http.HandlerFunc(whoami), anyBackend, warden.Require(guard.HasPermission(DemoPermission)), warden.NoStore())
	r.Get("/api/demo/admin", http.HandlerFunc(whoami), anyBackend, warden.Require(guard.IsAdminUser), warden.NoStore())
	r.Get("/api/demo/limited", http.HandlerFunc(demoPublic), warden.Limit(limited, ratelimit.ByIP()))
	r.Post("/api/demo/echo", http.HandlerFunc(echo), warden.BodyLimit(1<<10))
	r.Post("/api/demo/logout", http.HandlerFunc(a.revokeOwnToken), jwtOnly, warden.Require(guard.IsAuthenticated))

	return a.accounts.Mount(r, a.apiKeys)
}

func (a *App) backends() []auth.Authenticator {
	return append([]auth.Authenticator{a.jwt}, a.apiKeyBackends()...)
}

func (a *App) apiKeyBackends() []auth.Authenticator {
	return []auth.Authenticator{a.apiKeys}
}

func healthz(w http.ResponseWriter, _ *http.Request) {
	warden.WriteJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// readyz answers 200 only when every store the server depends on answers:
// the revocation list (Redis, when configured) and the database.
func (a *App) readyz(w http.ResponseWriter, r *http.Request) {
	if _, err := a.revoked.IsRevoked(r.Context(), "readiness-probe"); err != nil {
		w.Header().Set("Retry-After", "5")
		problem.Write(w, http.StatusServiceUnavailable, "The revocation store is not answering.")
		return
	}
	if err := a.db.Ping(r.Context()); err != nil {
		w.Header().Set("Retry-After", "5")
		problem.Write(w, http.StatusServiceUnavailable, "The database is not answering.")
		return
	}
	warden.WriteJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}

func demoPublic(w http.ResponseWriter, r *http.Request) {
	warden.WriteJSON(w, http.StatusOK, map[string]string{
		"message":   "Hello from Warden.",
		"client_ip": secure.ClientIP(r).String(),
	})
}

// identityView is the public shape of an Identity: never the credential.
type identityView struct {
	UserID      string   `json:"user_id"`
	AuthBackend string   `json:"auth_backend"`
	IsStaff     bool     `json:"is_staff"`
	IsAdmin     bool     `json:"is_admin"`
	Permissions []string `json:"permissions"`
}

func whoami(w http.ResponseWriter, r *http.Request) {
	id := auth.FromContext(r.Context())
	perms := id.Permissions
	if perms == nil {
		perms = []string{}
	}
	warden.WriteJSON(w, http.StatusOK, identityView{
		UserID: id.UserID, AuthBackend: id.Backend, IsStaff: id.IsStaff, IsAdmin: id.IsAdmin, Permissions: perms,
	})
}

// echo reports the size of a JSON body; it demonstrates the 1 KiB body
// limit of its route.
func echo(w http.ResponseWriter, r *http.Request) {
	var v any
	dec := json.NewDecoder(r.Body)
	if err := dec.Decode(&v); err != nil {
		if secure.IsBodyTooLarge(err) {
			problem.Write(w, http.StatusRequestEntityTooLarge, "The request body is too large.")
			return
		}
		problem.Write(w, http.StatusBadRequest, "The request body is not valid JSON.")
		return
	}
	if _, err := dec.Token(); err != io.EOF {
		problem.Write(w, http.StatusBadRequest, "The request body holds more than one JSON value.")
		return
	}
	warden.WriteJSON(w, http.StatusOK, map[string]any{"received": v})
}

// revokeOwnToken revokes the caller's access token; the next request with
// it answers 401.
func (a *App) revokeOwnToken(w http.ResponseWriter, r *http.Request) {
	id := auth.FromContext(r.Context())
	if err := a.revoked.Revoke(r.Context(), id.TokenID, id.ExpiresAt); err != nil {
		w.Header().Set("Retry-After", "5")
		problem.Write(w, http.StatusServiceUnavailable, "The token could not be revoked; try again shortly.")
		return
	}
	warden.WriteJSON(w, http.StatusOK, map[string]string{"message": "Token revoked."})
}
