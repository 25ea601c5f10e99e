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

type verifiedView struct {
	Message string   `json:"message"`
	Access  string   `json:"access"`
	Refresh string   `json:"refresh"`
	Device  string   `json:"device"`
	User    userView `json:"user"`
}

type loginView struct {
	Access  string   `json:"access"`
	Refresh string   `json:"refresh"`
	Device  string   `json:"device"`
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
		Description: "For an access token, the user's account; for an API key, the key's owner with the key's own permissions (a key without an owner is its own principal: id apikey:<key id>, no username).",
		Responses: map[int]any{
			200: meView{},
			404: warden.Problem("The account no longer exists."),
			503: busy,
		},
	})
	docSessions = warden.Doc(warden.Operation{
		Summary: "The caller's logins", Tags: tags,
		Description: "Every live login (refresh-token chain) of the user; current marks the one the access token belongs to.",
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
		Description: "Spends the token from the verification link and logs the user in.",
		Request:     verifyEmailInput{},
		Responses: map[int]any{
			200: verifiedView{},
			400: warden.Problem("The link is invalid or has expired; ask for a new one."),
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
		Description: "Answers an access token, a refresh token and a device value to send back with later logins of this account (it exempts them from the backoff that strangers' failed guesses cause).",
		Request:     loginInput{},
		Responses: map[int]any{
			200: loginView{},
			401: warden.Problem("Invalid username or password: one answer, in the same time, whether the user exists or not."),
			403: warden.Problem("The email address is not verified yet (answered only after a correct password)."),
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
		Description: "Revokes the presented refresh token's login and the current access token at once. Without a body, ends the login the access token belongs to.",
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
