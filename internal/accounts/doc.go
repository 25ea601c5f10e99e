// Package accounts is Warden's identity service: registration, email
// verification, login with rotating refresh tokens, logout, password reset
// and change, sessions and database-backed API keys, served under
// /api/auth as API.md describes.
//
// Contract and threat model:
//   - Nothing an anonymous client can ask reveals whether an account exists
//     or an address is registered: register, login (by username or by
//     address), resend-verification and password-reset answer alike in
//     status, body, headers, and in the work done before answering (the
//     same statements, hashes and queued jobs; tests compare them, and
//     bench/timing measures the time). Unknown-user logins pay for a dummy
//     password hash.
//   - Registering a taken address stores a pending registration (pending.go):
//     a users row that holds its username (a taken username is a 400 with
//     fields.username either way) and answers its password with 403 "not
//     verified", by username and by the address, exactly like the
//     unverified account a free address leaves; it never owns the address
//     (the owner logs in, resets and verifies as before) and can never be
//     verified (no link is made; the owner gets the account-exists notice).
//     A login by address checks the account and every pending registration
//     of the address in two Argon2 derivations, on every path: registrations
//     hash under a per-address salt (an HMAC under a per-installation secret
//     kept in the database) so that one derivation checks them all. Its
//     failed guesses count against the address's owner, as guesses by
//     address do, so the backoff looks the same too; a right password of an
//     unverified registration is neither a failure nor a success.
//   - Unverified registrations, accounts and pending rows alike, lapse
//     RegistrationTTL (7 days) after they were made or after the last
//     resend-verification for their address: they then answer like no
//     registration (401) and give their username and address back. The
//     verification link itself lasts VerifyTTL (24 h).
//   - register, resend-verification and password-reset answer before the
//     work for a real account runs: the request queues one job for any
//     address and the job decides (look-ups, token writes, mail). The queue
//     is bounded (1024 jobs, 4 workers); when full, the job is dropped and
//     logged ("job_dropped") and the answer stays the same. Wait and Close
//     return only when every queued job has run.
//   - Mail is limited per recipient, in the job, so invisibly to the
//     requester: a burst of 3 then one per 10 minutes, and a burst of 10
//     then 10 a day, keyed by an HMAC of the normalized address in the
//     rate limiters (shared through Redis when configured); a dropped mail
//     is logged ("mail_throttled") with the account's id, never the
//     address. Password-changed notices, which only the account holder's
//     actions cause, are not limited.
//   - Every token (refresh, verification, reset, device, API key secret) is 256
//     bits and stored only as a SHA-256 digest; the plaintext exists only in
//     the response or email that delivers it. All come from the CSPRNG but
//     a refresh token's successor, which is HMAC-SHA256 of the token under
//     a key derived (HKDF) from the signing secret: unpredictable without
//     that key, and the same bytes every time it is asked for.
//   - Refresh tokens are single use. Presenting a used one again within the
//     grace window for racing tabs (5 s) answers the same successor, byte
//     for byte, so a login never forks into two chains; presenting it later
//     revokes the whole login, its access tokens included, and is logged as
//     a security event.
//   - Usernames cannot impersonate: after NFKC a new name is 3 to 150 ASCII
//     letters, digits, '.', '_' or '-' (no other script, no look-alike or
//     invisible character, no '@'), and names equal after NFKC and case
//     folding are one name, under a unique index (username_norm).
//   - API keys are shown once and stored hashed; a password reset revokes
//     the owner's keys, in the reset's transaction, unless a key was made
//     to survive one. warden apikey create gives keys 90 days unless told
//     otherwise (--no-expiry is explicit).
//   - Expired sessions, refresh tokens and one-time tokens are deleted an
//     hour after they expire, in short batches, by a goroutine that New
//     starts (every 10 minutes) and Close stops; Purge runs it on demand.
//   - Access tokens name their login ("sid"); each request checks that the
//     login is still live, so logout, logout-all, reset and password change
//     take effect on the next request.
//   - Password hashing runs behind a memory-sized concurrency bound; a full
//     queue answers 503 rather than exhausting memory. Each account (each
//     failure key below) may have at most two hashes in flight per
//     instance, so one account's flood is refused with 429 for that
//     account alone and cannot take the budget from other users.
//   - Failed passwords back off per key, after NIST SP 800-63B: five free,
//     then 1 s doubling to 15 min, and a reset needed after 100. The key is
//     the account ("u:"), or the name tried when there is no account
//     ("n:"), so throttling looks the same either way; a wrong
//     current_password on PATCH /password counts under the account too.
//     An attempt is counted before its password is hashed, in one atomic
//     step with the backoff check (a transaction in SQL, a script in
//     Redis): racing attempts cannot all be checked, at most five run
//     before the backoff. A check that succeeds clears the key; one that
//     could not run (hasher busy) is given back. A counter that does not
//     answer refuses the attempt (503).
//   - Devices: a successful login (and the verify-email login) answers
//     `device`, a 256-bit random token bound to the user and stored as a
//     digest, that the client sends back with later logins. A login
//     presenting a live device of that account counts its failures under
//     its own key ("d:<user>:<device>"): strangers' failures, counted under
//     the account's, cannot lock out a client that logged in before, while
//     the holder's own wrong guesses back off as anyone's. A missing,
//     forged, expired or other account's device changes nothing. Devices
//     expire 90 days after their last use, at most 50 per user are kept,
//     and a password reset deletes them all.
//   - The per-client limits of the public routes key IPv4 clients by
//     address and IPv6 clients by /64; PATCH /password is limited per user.
//   - Browser mode (cookies.go): login and verify-email with "mode":
//     "cookie" answer no token and set the __Host- session cookie, whose
//     value is stored only as a digest on the login's sessions row. A
//     cookie login is listed, ended and revoked like a token login; it
//     ends after SessionIdle unused and SessionMax in all. Every cookie
//     login mints a fresh value and id and ends the session whose cookie
//     the request carried; a change of the user's permissions ends their
//     cookie sessions. A cookie-mode request must pass CSRF (Config.CSRF)
//     before any password work (login CSRF).
//   - GET /me and the session cookie's lookup read through caches of one
//     second (readcache.go): a change to an account or the end of a login
//     shows on the next request on the instance that made it, and within
//     a second on other instances and after operator commands. /me's
//     is_staff, is_admin and permissions are informational: every guard
//     decides from the request's identity (the token's claims, the
//     session row's privileges), never from /me's answer. A cookie
//     session's revocation is checked on every request, so it holds as a
//     token's does (next request here, within 5 s elsewhere).
//   - Security events go to slog without secrets.
package accounts
