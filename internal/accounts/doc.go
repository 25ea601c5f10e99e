// Package accounts is Warden's identity service: registration, email
// verification, login with rotating refresh tokens, logout, password reset
// and change, sessions and database-backed API keys, served under
// /api/auth as API.md describes.
//
// Contract and threat model:
//   - Nothing an anonymous client can ask reveals whether an account exists:
//     registration with a taken email, login with an unknown user and reset
//     for an unknown email answer exactly as their counterparts do, and
//     unknown-user logins pay for a dummy password hash.
//   - Every token (refresh, verification, reset, API key secret) is 256
//     bits from the CSPRNG and stored only as a SHA-256 digest; the
//     plaintext exists only in the response or email that delivers it.
//   - Refresh tokens are single use. Presenting a used one again, outside a
//     short grace window for racing browser tabs, revokes the whole login
//     and is logged as a security event.
//   - Access tokens name their login ("sid"); each request checks that the
//     login is still live, so logout, logout-all, reset and password change
//     take effect on the next request.
//   - Password hashing runs behind a memory-sized concurrency bound; a full
//     queue answers 503 rather than exhausting memory. Login failures back
//     off per account (and per unknown name), never locking permanently
//     before 100 consecutive failures, after which a reset is needed.
//   - Security events go to slog without secrets.
package accounts
