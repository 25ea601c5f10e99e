package accounts

import (
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/wardenhq/warden"
	"github.com/wardenhq/warden/auth"
	"github.com/wardenhq/warden/guard"
	"github.com/wardenhq/warden/internal/store"
	"github.com/wardenhq/warden/password"
	"github.com/wardenhq/warden/problem"
	"github.com/wardenhq/warden/ratelimit"
	"github.com/wardenhq/warden/secure"
)

// hasherBusyRetry is the Retry-After when every password-hashing slot is
// taken: a hash takes tens of milliseconds, so slots free up quickly.
const hasherBusyRetry = 2 * time.Second

// authBodyLimit bounds every accounts request body; none needs more.
const authBodyLimit = 16 << 10

// authClientKey keys the per-client limits of the public routes: an IPv4
// address alone, but an IPv6 address by its /64, since one host usually
// holds a whole /64 and could otherwise draw on 2^64 buckets.
var authClientKey = ratelimit.ByIPPrefix(32, 64)

// Mount registers the /api/auth routes on r. apiKeys, when not nil, lets
// API keys call the routes marked "any" in API.md (only /me).
func (s *Service) Mount(r *warden.Router, apiKeys auth.Authenticator) error {
	limit := func(name string, key ratelimit.KeyFunc) (warden.Option, error) {
		p := s.cfg.AuthRate
		p.Name = name
		l, err := s.cfg.NewLimiter(p)
		if err != nil {
			return nil, err
		}
		return warden.Limit(l, key), nil
	}
	limits := map[string]warden.Option{}
	for _, name := range []string{"register", "login", "refresh", "reset", "resend", "verify"} {
		o, err := limit(name, authClientKey)
		if err != nil {
			return err
		}
		limits[name] = o
	}
	// Changing a password hashes twice and checks a password: a limit per
	// user (after authentication, so ByUser sees who), shared between
	// instances like the others when NewLimiter is.
	passwordLimit, err := limit("password", ratelimit.ByUser())
	if err != nil {
		return err
	}
	// A signed-in route takes the access token or, from a browser, the
	// session cookie; /me takes API keys too.
	bearer := warden.Auth(s.Authenticator(), s.cookies)
	anyBackend := bearer
	if apiKeys != nil {
		anyBackend = warden.Auth(s.Authenticator(), s.cookies, apiKeys)
	}
	signedIn := warden.Require(guard.IsAuthenticated)

	r.With(warden.NoStore()).Group("/api/auth", func(r *warden.Router) {
		r.Get("/me", s.handleMe, anyBackend, signedIn, docMe)
		r.Get("/sessions", s.handleSessions, bearer, signedIn, docSessions)
		r.Delete("/sessions/{id}", s.handleEndSession, bearer, signedIn, docEndSession)

		withBody := r.With(warden.BodyLimit(authBodyLimit))
		// Anyone may call these: they are how one gets a credential. Each
		// has its own per-IP limit, which also guards the password hasher.
		public := withBody.With(warden.Require(guard.AllowAny))
		public.Post("/register", s.handleRegister, limits["register"], docRegister)
		public.Post("/verify-email", s.handleVerifyEmail, limits["verify"], docVerifyEmail)
		public.Post("/resend-verification", s.handleResend, limits["resend"], docResend)
		public.Post("/login", s.handleLogin, limits["login"], docLogin)
		public.Post("/refresh", s.handleRefresh, limits["refresh"], docRefresh)
		public.Post("/password-reset", s.handleResetRequest, limits["reset"], docResetRequest)
		public.Post("/password-reset/confirm", s.handleResetConfirm, limits["reset"], docResetConfirm)

		withBody.Post("/logout", s.handleLogout, bearer, signedIn, docLogout)
		withBody.Post("/logout-all", s.handleLogoutAll, bearer, signedIn, docLogoutAll)
		withBody.Patch("/password", s.handleChangePassword, bearer, signedIn, passwordLimit, docChangePassword)
	})
	return nil
}

type message struct {
	Message string `json:"message"`
}

type userSummary struct {
	ID       string `json:"id"`
	Username string `json:"username"`
	Email    string `json:"email"`
}

type userView struct {
	ID        string `json:"id"`
	Username  string `json:"username"`
	Email     string `json:"email"`
	FirstName string `json:"first_name"`
	LastName  string `json:"last_name"`
}

func viewOf(u *User) userView {
	return userView{ID: u.ID, Username: u.Username, Email: u.Email, FirstName: u.FirstName, LastName: u.LastName}
}

func clientOf(r *http.Request) Client {
	return Client{UserAgent: r.UserAgent(), IP: secure.ClientIP(r).String()}
}

// fail answers err as a problem document, without internal details.
func (s *Service) fail(w http.ResponseWriter, r *http.Request, err error) {
	var verr *ValidationError
	var throttled *ThrottledError
	switch {
	case errors.As(err, &verr):
		p := problem.New(http.StatusBadRequest, "The request has invalid fields.")
		for f, msgs := range verr.Fields {
			for _, m := range msgs {
				p.WithField(f, m)
			}
		}
		p.Write(w)
	case errors.Is(err, ErrBadCredentials):
		w.Header().Set("WWW-Authenticate", auth.Challenge)
		problem.Write(w, http.StatusUnauthorized, "Invalid username or password.")
	case errors.Is(err, ErrNotVerified):
		problem.Write(w, http.StatusForbidden, "The email address is not verified yet; follow the link we sent, or ask for a new one.")
	case errors.As(err, &throttled):
		// Logins and password changes share the account's count.
		detail := "Too many failed password attempts; wait before trying again."
		if throttled.NeedsReset {
			detail = "Too many failed password attempts; reset the password to sign in again."
		}
		problem.WriteRetry(w, http.StatusTooManyRequests, throttled.RetryAfter, detail)
	case errors.Is(err, errHashShare):
		problem.WriteRetry(w, http.StatusTooManyRequests, hasherBusyRetry, "Too many password checks for this account at once; try again in a moment.")
	case errors.Is(err, password.ErrBusy):
		problem.WriteRetry(w, http.StatusServiceUnavailable, hasherBusyRetry, "The server is busy; try again in a moment.")
	case errors.Is(err, ErrInvalidToken):
		problem.Write(w, http.StatusBadRequest, "The link is invalid or has expired; ask for a new one.")
	case errors.Is(err, ErrWrongPassword):
		problem.New(http.StatusBadRequest, "The current password is wrong.").WithField("current_password", "The current password is wrong.").Write(w)
	case errors.Is(err, ErrNotFound):
		problem.Write(w, http.StatusNotFound, "Not found.")
	case errors.Is(err, store.ErrUnavailable):
		s.log.LogAttrs(r.Context(), slog.LevelError, "database unavailable", slog.String("error", err.Error()))
		problem.Unavailable(w, "The service is temporarily unavailable; try again shortly.")
	default:
		s.log.LogAttrs(r.Context(), slog.LevelError, "accounts request failed", slog.String("error", err.Error()))
		problem.Write(w, http.StatusInternalServerError, "An internal error occurred.")
	}
}

func (s *Service) handleRegister(w http.ResponseWriter, r *http.Request) {
	var in RegisterInput
	if !secure.DecodeJSON(w, r, &in) {
		return
	}
	u, err := s.Register(r.Context(), in)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	warden.WriteJSON(w, http.StatusCreated, struct {
		Message string      `json:"message"`
		User    userSummary `json:"user"`
	}{
		Message: "Registration received. Check your email to verify your address before logging in.",
		User:    userSummary{ID: u.ID, Username: u.Username, Email: u.Email},
	})
}

func (s *Service) handleVerifyEmail(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Token string `json:"token"`
		Mode  string `json:"mode"`
	}
	if !secure.DecodeJSON(w, r, &in) {
		return
	}
	// Before the token is spent: a refused mode must not use it up.
	cookie, ok := s.loginMode(w, r, in.Mode)
	if !ok {
		return
	}
	if in.Token == "" || len(in.Token) > 256 {
		s.fail(w, r, ErrInvalidToken)
		return
	}
	c := clientOf(r)
	c.Cookie = cookie
	t, err := s.VerifyEmail(r.Context(), in.Token, c)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if cookie {
		s.answerCookieLogin(w, r, t, "Email verified.")
		return
	}
	// device is an extra member here (API.md lists it for login only):
	// the client that verified may keep it like a login's.
	warden.WriteJSON(w, http.StatusOK, struct {
		Message string   `json:"message"`
		Access  string   `json:"access"`
		Refresh string   `json:"refresh"`
		Device  string   `json:"device"`
		User    userView `json:"user"`
	}{"Email verified.", t.Access, t.Refresh, t.Device, viewOf(t.User)})
}

func (s *Service) handleResend(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Email string `json:"email"`
	}
	if !secure.DecodeJSON(w, r, &in) {
		return
	}
	if len(in.Email) <= 254 {
		if err := s.ResendVerification(r.Context(), in.Email); err != nil {
			s.fail(w, r, err)
			return
		}
	}
	warden.WriteJSON(w, http.StatusOK, message{"If an unverified account uses this address, a new verification link is on its way."})
}

func (s *Service) handleLogin(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Username string `json:"username"`
		Email    string `json:"email"`
		Password string `json:"password"`
		Device   string `json:"device"`
		Mode     string `json:"mode"`
	}
	if !secure.DecodeJSON(w, r, &in) {
		return
	}
	// Before any password work: a refused mode or a forged cookie login
	// costs nothing.
	cookie, ok := s.loginMode(w, r, in.Mode)
	if !ok {
		return
	}
	if cookie && in.Device == "" {
		in.Device = presentedDeviceCookie(r)
	}
	login := in.Username
	if login == "" {
		login = in.Email
	}
	if login == "" || in.Password == "" || len(login) > 254 || len(in.Password) > 4096 {
		s.fail(w, r, ErrBadCredentials)
		return
	}
	c := clientOf(r)
	c.Device, c.Cookie = in.Device, cookie
	t, err := s.Login(r.Context(), login, in.Password, c)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if cookie {
		s.answerCookieLogin(w, r, t, "")
		return
	}
	warden.WriteJSON(w, http.StatusOK, struct {
		Access  string   `json:"access"`
		Refresh string   `json:"refresh"`
		Device  string   `json:"device"`
		User    userView `json:"user"`
	}{t.Access, t.Refresh, t.Device, viewOf(t.User)})
}

func (s *Service) handleRefresh(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Refresh string `json:"refresh"`
	}
	if !secure.DecodeJSON(w, r, &in) {
		return
	}
	if in.Refresh == "" || len(in.Refresh) > 256 {
		s.fail(w, r, ErrBadCredentials)
		return
	}
	t, err := s.Refresh(r.Context(), in.Refresh)
	if err != nil {
		if errors.Is(err, ErrBadCredentials) {
			w.Header().Set("WWW-Authenticate", auth.Challenge)
			problem.Write(w, http.StatusUnauthorized, "The refresh token is invalid or has expired; log in again.")
			return
		}
		s.fail(w, r, err)
		return
	}
	warden.WriteJSON(w, http.StatusOK, struct {
		Access  string `json:"access"`
		Refresh string `json:"refresh"`
	}{t.Access, t.Refresh})
}

func (s *Service) handleLogout(w http.ResponseWriter, r *http.Request) {
	var in struct {
		RefreshToken string `json:"refresh_token"`
	}
	// The body is optional: logging out without the refresh token still
	// ends the session the access token (or the cookie) belongs to.
	if r.ContentLength != 0 && !secure.DecodeJSON(w, r, &in) {
		return
	}
	id := auth.FromContext(r.Context())
	if err := s.Logout(r.Context(), id, in.RefreshToken); err != nil {
		s.fail(w, r, err)
		return
	}
	s.clearCookieOf(w, id)
	warden.WriteJSON(w, http.StatusOK, message{"Logged out."})
}

func (s *Service) handleLogoutAll(w http.ResponseWriter, r *http.Request) {
	id := auth.FromContext(r.Context())
	if err := s.LogoutAll(r.Context(), id); err != nil {
		s.fail(w, r, err)
		return
	}
	s.clearCookieOf(w, id)
	warden.WriteJSON(w, http.StatusOK, message{"Logged out of every session."})
}

func (s *Service) handleResetRequest(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Email string `json:"email"`
	}
	if !secure.DecodeJSON(w, r, &in) {
		return
	}
	if len(in.Email) <= 254 {
		if err := s.RequestReset(r.Context(), in.Email); err != nil {
			s.fail(w, r, err)
			return
		}
	}
	warden.WriteJSON(w, http.StatusOK, message{"If an account uses this address, a password reset link is on its way."})
}

func (s *Service) handleResetConfirm(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Token    string `json:"token"`
		Password string `json:"password"`
	}
	if !secure.DecodeJSON(w, r, &in) {
		return
	}
	if in.Token == "" || len(in.Token) > 256 {
		s.fail(w, r, ErrInvalidToken)
		return
	}
	if err := s.ConfirmReset(r.Context(), in.Token, in.Password); err != nil {
		s.fail(w, r, err)
		return
	}
	warden.WriteJSON(w, http.StatusOK, message{"Password changed. Log in with the new password."})
}

func (s *Service) handleChangePassword(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Current string `json:"current_password"`
		New     string `json:"new_password"`
	}
	if !secure.DecodeJSON(w, r, &in) {
		return
	}
	id := auth.FromContext(r.Context())
	if id.Backend != auth.BackendJWT && id.Backend != auth.BackendSession {
		guard.Deny(w, id)
		return
	}
	if err := s.ChangePassword(r.Context(), id, in.Current, in.New); err != nil {
		s.fail(w, r, err)
		return
	}
	warden.WriteJSON(w, http.StatusOK, message{"Password changed. Other sessions have been logged out."})
}

type meView struct {
	ID            string   `json:"id"`
	Username      string   `json:"username"`
	Email         string   `json:"email"`
	FirstName     string   `json:"first_name"`
	LastName      string   `json:"last_name"`
	IsStaff       bool     `json:"is_staff"`
	IsAdmin       bool     `json:"is_admin"`
	EmailVerified bool     `json:"email_verified"`
	Permissions   []string `json:"permissions"`
	// AuthBackend names how the caller authenticated: "jwt", "session"
	// (the browser-mode cookie) or "api_key".
	AuthBackend string `json:"auth_backend"`
}

// handleMe answers the caller's account. It is read through the account
// cache (readcache.go): a change made on this instance shows on the next
// request, one made elsewhere within a second. Its is_staff, is_admin and
// permissions describe the account; what the request may do is decided
// by the identity's own (the token's claims, the session's row, the
// key's), which is why an API key shows its own permissions.
func (s *Service) handleMe(w http.ResponseWriter, r *http.Request) {
	id := auth.FromContext(r.Context())
	userID := id.UserID
	if id.Backend == auth.BackendAPIKey {
		owner, _ := id.Claims["owner"].(string)
		if owner == "" {
			// A key without an owner is its own principal.
			perms := id.Permissions
			if perms == nil {
				perms = []string{}
			}
			warden.WriteJSON(w, http.StatusOK, meView{ID: id.UserID, IsAdmin: id.IsAdmin, Permissions: perms, AuthBackend: id.Backend})
			return
		}
		userID = owner
	}
	u, err := s.repo.accountView(r.Context(), userID)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	perms := u.Permissions
	if id.Backend == auth.BackendAPIKey {
		perms = id.Permissions // a key acts with its own permissions
	}
	warden.WriteJSON(w, http.StatusOK, meView{
		ID: u.ID, Username: u.Username, Email: u.Email, FirstName: u.FirstName, LastName: u.LastName,
		IsStaff: u.IsStaff, IsAdmin: u.IsAdmin, EmailVerified: u.EmailVerified, Permissions: perms, AuthBackend: id.Backend,
	})
}

type sessionView struct {
	ID         string    `json:"id"`
	CreatedAt  time.Time `json:"created_at"`
	LastUsedAt time.Time `json:"last_used_at"`
	UserAgent  string    `json:"user_agent"`
	IP         string    `json:"ip"`
	Current    bool      `json:"current"`
	// Cookie marks a browser-mode login (a session cookie).
	Cookie bool `json:"cookie"`
}

func (s *Service) handleSessions(w http.ResponseWriter, r *http.Request) {
	id := auth.FromContext(r.Context())
	list, err := s.Sessions(r.Context(), id.UserID)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	out := make([]sessionView, 0, len(list))
	for _, ss := range list {
		out = append(out, sessionView{ID: ss.ID, CreatedAt: ss.CreatedAt, LastUsedAt: ss.LastUsedAt, UserAgent: ss.UserAgent, IP: ss.IP, Current: ss.ID == id.SessionID, Cookie: ss.Cookie})
	}
	warden.WriteJSON(w, http.StatusOK, map[string]any{"sessions": out})
}

func (s *Service) handleEndSession(w http.ResponseWriter, r *http.Request) {
	id := auth.FromContext(r.Context())
	sid := r.PathValue("id")
	if len(sid) > 64 {
		s.fail(w, r, ErrNotFound)
		return
	}
	if err := s.EndSession(r.Context(), id.UserID, sid); err != nil {
		s.fail(w, r, err)
		return
	}
	if sid == id.SessionID {
		s.clearCookieOf(w, id)
	}
	w.WriteHeader(http.StatusNoContent)
}
