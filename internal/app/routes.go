package app

import (
	"encoding/json"
	"io"
	"net/http"

	"github.com/wardenhq/warden"
	"github.com/wardenhq/warden/auth"
	"github.com/wardenhq/warden/files"
	"github.com/wardenhq/warden/guard"
	"github.com/wardenhq/warden/internal/bookclub"
	"github.com/wardenhq/warden/internal/console"
	"github.com/wardenhq/warden/problem"
	"github.com/wardenhq/warden/ratelimit"
	"github.com/wardenhq/warden/secure"
)

// DemoPermission is the permission the permission-guarded demo route needs.
const DemoPermission = "demo.read"

// routes is the route table: each line says who may call what.
func (a *App) routes() error {
	r := a.router
	public := warden.Require(guard.AllowAny)
	// Load balancers poll these from one address, and by address rather
	// than by name: no router-wide throttle, any Host
	// (WARDEN_ALLOWED_HOSTS). Their answers tell a page on a rebinding
	// name nothing worth reading.
	r.Get("/healthz", healthz, public, warden.Unthrottled(), warden.AnyHost(), docHealthz)
	r.Get("/readyz", a.readyz, public, warden.Unthrottled(), warden.AnyHost(), docReadyz)

	if a.cfg.DemoRoutes {
		if err := a.demoRoutes(r); err != nil {
			return err
		}
	}

	// Stored files (avatars): public, since profiles show them to anyone
	// their visibility allows and the names are 128 random bits. The
	// files server answers with nosniff and a sandboxing CSP, also on
	// errors. Unthrottled like the console's assets: a page shows many
	// avatars, and counting each against the caller's allowance would
	// turn browsing into 429s, while each answer is a bounded read of a
	// small file (or a 304 on revalidation).
	r.Handle(http.MethodGet, bookclub.MediaURLPrefix+"{path...}", a.mediaServer, public, warden.Unthrottled(), warden.CSP(files.CSP), docMedia)

	// The web console: public pages and assets under their own CSP,
	// exempt from the router-wide throttle like the media files (API.md:
	// console assets are), since one visit loads a dozen of them.
	if err := console.Mount(r, public, warden.Unthrottled()); err != nil {
		return err
	}

	if err := a.accounts.Mount(r, a.apiKeys); err != nil {
		return err
	}
	return a.bookclub.Mount(r)
}

// demoRoutes mounts one route per pipeline option, to try with curl (off
// in production unless WARDEN_DEMO_ROUTES asks for them).
func (a *App) demoRoutes(r *warden.Router) error {
	limited, err := a.newLimiter(ratelimit.Policy{Name: "demo", Rate: 1, Burst: 5})
	if err != nil {
		return err
	}
	public := warden.Require(guard.AllowAny)
	r.Group("/api/demo", func(r *warden.Router) {
		r.Get("/public", demoPublic, public, docDemoPublic)
		r.Get("/limited", demoPublic, public, warden.Limit(limited, ratelimit.ByIP()), docDemoLimited)
		r.Post("/echo", echo, public, warden.BodyLimit(1<<10), docDemoEcho)

		private := r.With(warden.NoStore())
		private.Get("/jwt", whoami, warden.Auth(a.bearer), warden.Require(guard.IsAuthenticated), docDemoJWT)
		private.Get("/apikey", whoami, warden.Auth(a.apiKeys), warden.Require(guard.IsAuthenticated), docDemoAPIKey)
		private.Get("/permission", whoami, warden.Auth(a.bearer, a.apiKeys), warden.Require(guard.HasPermission(DemoPermission)), docDemoPermission)
		private.Get("/admin", whoami, warden.Auth(a.bearer, a.apiKeys), warden.Require(guard.IsAdminUser), docDemoAdmin)
		r.Post("/logout", a.revokeOwnToken, warden.Auth(a.bearer), warden.Require(guard.IsAuthenticated), docDemoLogout)
	})
	return nil
}

func healthz(w http.ResponseWriter, _ *http.Request) {
	warden.WriteJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// readyz answers 200 only when every store the server depends on answers:
// the revocation list (Redis, when configured) and the database.
func (a *App) readyz(w http.ResponseWriter, r *http.Request) {
	if a.redis != nil {
		if err := a.redis.Ping(r.Context()).Err(); err != nil {
			problem.Unavailable(w, "The revocation store is not answering.")
			return
		}
	}
	if err := a.db.Ping(r.Context()); err != nil {
		problem.Unavailable(w, "The database is not answering.")
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
	if err := a.jwt.RevokeToken(r.Context(), id); err != nil {
		problem.Unavailable(w, "The token could not be revoked; try again shortly.")
		return
	}
	warden.WriteJSON(w, http.StatusOK, map[string]string{"message": "Token revoked."})
}
