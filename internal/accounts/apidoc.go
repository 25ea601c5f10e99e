package accounts

import (
	"github.com/wardenhq/warden"
	"github.com/wardenhq/warden/auth"
)

// The shapes below document the /api/auth routes (Mount's Doc options,
// from which the server's OpenAPI document is generated). Most handlers
// decode and answer anonymous structs, so these named types repeat their
// members; the internal/app test TestOpenAPIDescribesWhatTheServerAnswers
// sends real requests and checks every answer against the document, so
// the two cannot drift apart unnoticed. Responses that handlers already
// build from named types (userView, meView, sessionView, message) are
// used as they are.

type verifyEmailInput struct {
	Token string `json:"token"`
	// Mode is "token" (the default) or "cookie" (browser mode).
	Mode string `json:"mode,omitempty"`
}

type emailInput struct {
	Email string `json:"email"`
}

type loginInput struct {
	// Username may hold an email address instead.
	Username string `json:"username"`
	// Email is read when Username is empty.
	Email    string `json:"email,omitempty"`
	Password string `json:"password"`
	// Device is the value a previous login of this account answered.
	Device string `json:"device,omitempty"`
	// Mode is "token" (the default) or "cookie" (browser mode: the
	// session cookie is set and no token is answered).
	Mode string `json:"mode,omitempty"`
}

type refreshInput struct {
	Refresh string `json:"refresh"`
}

type logoutInput struct {
	RefreshToken string `json:"refresh_token,omitempty"`
}

type resetConfirmInput struct {
	Token    string `json:"token"`
	Password string `json:"password"`
}

type changePasswordInput struct {
	CurrentPassword string `json:"current_password"`
	NewPassword     string `json:"new_password"`
}

type registeredView struct {
	Message string      `json:"message"`
	User    userSummary `json:"user"`
}

// verifiedView and loginView: the tokens and the device are absent in
// cookie mode (cookieLoginView is what that mode answers).
type verifiedView struct {
	Message string   `json:"message"`
	Access  string   `json:"access,omitempty"`
	Refresh string   `json:"refresh,omitempty"`
	Device  string   `json:"device,omitempty"`
	User    userView `json:"user"`
}

type loginView struct {
	Access  string   `json:"access,omitempty"`
	Refresh string   `json:"refresh,omitempty"`
	Device  string   `json:"device,omitempty"`
	User    userView `json:"user"`
}

// cookieLoginView is the answer of a cookie-mode login or verify-email:
// the user, no token (the session cookie carries the login).
type cookieLoginView struct {
	Message string   `json:"message,omitempty"`
	User    userView `json:"user"`
}

type refreshedView struct {
	Access  string `json:"access"`
	Refresh string `json:"refresh"`
}

type sessionsView struct {
	Sessions []sessionView `json:"sessions"`
}

// busy is the 503 of every route: a store is down (the database, or what
// authentication and rate limits consult) or the password hasher is full.
var busy = warden.Problem("A store is not answering (database, revocation list, rate limits), or every password-hashing slot is taken; retry after Retry-After.")

var tags = []string{"accounts"}

// The Doc options of Mount's routes, one per route, next to the shapes
// they name.
var (
	docMe = warden.Doc(warden.Operation{
		Summary: "The caller's account", Tags: tags,
		Description: "For an access token or the session cookie, the user's account; for an API key, the key's owner with the key's own permissions (a key without an owner is its own principal: id apikey:<key id>, no username). auth_backend says which credential was used.",
		Responses: map[int]any{
			200: meView{},
			404: warden.Problem("The account no longer exists."),
			503: busy,
		},
	})
	docSessions = warden.Doc(warden.Operation{
		Summary: "The caller's logins", Tags: tags,
		Description: "Every live login (a refresh-token chain, or a browser's session cookie: cookie) of the user; current marks the one the caller used.",
		Responses:   map[int]any{200: sessionsView{}, 503: busy},
	})
	docEndSession = warden.Doc(warden.Operation{
		Summary: "End one login", Tags: tags,
		Description: "Revokes the login and every token descended from it, on every route and instance.",
		Path:        []warden.Param{{Name: "id", Description: "A session id from GET /api/auth/sessions."}},
		Responses: map[int]any{
			204: nil,
			404: warden.Problem("The caller has no live login with this id."),
			503: busy,
		},
	})
	docRegister = warden.Doc(warden.Operation{
		Summary: "Register an account", Tags: tags,
		Description: "The account cannot log in until its email address is verified through the link mailed to it. A registered email address gets the same answer (its owner is mailed a notice instead), so the answer reveals nothing.",
		Request:     RegisterInput{},
		Responses: map[int]any{
			201: registeredView{},
			400: warden.Problem("Invalid fields: a taken or malformed username (fields.username), a password the policy refuses (fields.password), and so on."),
			503: busy,
		},
	})
	docVerifyEmail = warden.Doc(warden.Operation{
		Summary: "Verify an email address", Tags: tags,
		Description: "Spends the token from the verification link and logs the user in. With \"mode\": \"cookie\" (browser mode) it sets the session cookie and answers no token, only message and user; such a request must come from this site or an allowed origin (Sec-Fetch-Site or Origin).",
		Request:     verifyEmailInput{},
		Responses: map[int]any{
			200: verifiedView{},
			400: warden.Problem("The link is invalid or has expired; ask for a new one. Or mode is neither \"token\" nor \"cookie\" (fields.mode)."),
			403: warden.Problem("A cookie-mode request from another site (cross-origin request forgery protection)."),
			503: busy,
		},
	})
	docResend = warden.Doc(warden.Operation{
		Summary: "Mail a new verification link", Tags: tags,
		Description: "The same answer for any address, registered or not.",
		Request:     emailInput{},
		Responses:   map[int]any{200: message{}, 503: busy},
	})
	docLogin = warden.Doc(warden.Operation{
		Summary: "Log in", Tags: tags,
		Description: "Answers an access token, a refresh token and a device value to send back with later logins of this account (it exempts them from the backoff that strangers' failed guesses cause). " +
			"With \"mode\": \"cookie\" (browser mode) it answers only the user and sets the session cookie (and keeps the device in a cookie of its own); such a login must come from this site or an allowed origin (Sec-Fetch-Site or Origin), and it ends the session whose cookie it replaces.",
		Request: loginInput{},
		Responses: map[int]any{
			200: loginView{},
			400: warden.Problem("mode is neither \"token\" nor \"cookie\" (fields.mode)."),
			401: warden.Problem("Invalid username or password: one answer, in the same time, whether the user exists or not."),
			403: warden.Problem("The email address is not verified yet (answered only after a correct password), or a cookie-mode login from another site (cross-origin request forgery protection)."),
			429: warden.Problem("Too many requests from this client, or too many failed password attempts for this account; retry after Retry-After."),
			503: busy,
		},
	})
	docRefresh = warden.Doc(warden.Operation{
		Summary: "Rotate the refresh token", Tags: tags,
		Description: "Answers a new access token and a new refresh token. A refresh token is single use: presenting it again within the grace window answers the same successor; later, it revokes the whole login.",
		Request:     refreshInput{},
		Responses: map[int]any{
			200: refreshedView{},
			401: warden.Problem("The refresh token is invalid, expired or was used before; log in again."),
			503: busy,
		},
	})
	docResetRequest = warden.Doc(warden.Operation{
		Summary: "Mail a password reset link", Tags: tags,
		Description: "The same answer for any address, registered or not.",
		Request:     emailInput{},
		Responses:   map[int]any{200: message{}, 503: busy},
	})
	docResetConfirm = warden.Doc(warden.Operation{
		Summary: "Set a new password with a reset link", Tags: tags,
		Description: "Spends the token from the reset link; every token the user holds is revoked. It does not log the user in.",
		Request:     resetConfirmInput{},
		Responses: map[int]any{
			200: message{},
			400: warden.Problem("The link is invalid or has expired, or the policy refuses the password (fields.password)."),
			503: busy,
		},
	})
	docLogout = warden.Doc(warden.Operation{
		Summary: "Log out", Tags: tags,
		Description: "Revokes the presented refresh token's login and the current access token at once. Without a body, ends the login the access token (or the session cookie) belongs to; with the cookie, also deletes it from the browser.",
		Request:     logoutInput{}, RequestOptional: true,
		Responses: map[int]any{200: message{}, 503: busy},
	})
	docLogoutAll = warden.Doc(warden.Operation{
		Summary: "Log out everywhere", Tags: tags,
		Description: "Revokes every token the user holds, on every route and instance.",
		Responses:   map[int]any{200: message{}, 503: busy},
	})
	docChangePassword = warden.Doc(warden.Operation{
		Summary: "Change the password", Tags: tags,
		Description: "Revokes every other login of the user; the login that made the change stays.",
		Request:     changePasswordInput{},
		Responses: map[int]any{
			200: message{},
			400: warden.Problem("The current password is wrong (fields.current_password), or the policy refuses the new one."),
			429: warden.Problem("Too many password changes, or too many failed password attempts for this account; retry after Retry-After."),
			503: busy,
		},
	})
)

// Scheme implements auth.Describer: the credential is the bearer JWT its
// verifier reads; the session check adds a rule, not another credential.
func (a *Authenticator) Scheme() auth.Scheme { return a.jwt.Scheme() }
