// Package auth establishes who made a request: JWT, API-key and
// session-cookie backends, the Identity they produce and the middleware
// that runs them.
//
// Contract and threat model:
//   - A backend returns (nil, nil) when the request carries no credential of
//     its kind, an Identity when the credential is valid, and an error
//     wrapping ErrInvalidCredentials (answered 401 with WWW-Authenticate) or
//     ErrUnavailable (answered 503: a security decision that cannot be made
//     is refused, never waved through).
//   - JWT keys: every key is bound to exactly one algorithm and a token's
//     "alg" must equal its key's, so "none", HS/RS key confusion and
//     algorithm downgrades fail. One verifier holds HMAC secrets or public
//     keys, never both. HMAC secrets are at least as long as their hash
//     (HS256 32 bytes, HS384 48, HS512 64; RFC 7518 section 3.2), for
//     verifying and for signing. RSA keys have at least 2048 bits and never
//     the ROCA fingerprint (CVE-2017-15361), checked when a key is loaded.
//   - JWT order of checks: tokens over MaxTokenBytes are refused before any
//     parsing. Each segment must be unpadded, canonical base64url (no "=",
//     no whitespace, no non-zero trailing bits), so a token has one
//     spelling. The header is read before the signature only to pick a
//     configured key: a "kid" selects among them, the jwk, jku, x5u and x5c
//     headers are never consulted, and any "crit" header is refused (RFC
//     7515 section 4.1.11; no extension is implemented). The signature is
//     verified over the segments as received before the payload is parsed
//     or any claim is read, so a forged token is refused by the signature
//     check whatever its payload.
//   - JWT claims: the payload must be a JSON object. "exp" is required;
//     issuer, audience and type are checked when configured. A token may
//     not have been issued to live longer than MaxLifetime (24h by
//     default): exp - iat, or exp - now without iat. Cached tokens meet the
//     time rules, the lifetime included, on every use.
//   - API keys are compared in constant time against SHA-256 digests; a
//     key's identity names its id, never its secret.
//   - Session cookies (Sessions) are opaque 256-bit values kept only as
//     SHA-256 digests, in a "__Host-" cookie that is HttpOnly, Secure and
//     SameSite=Lax; a session ends when idle, at its absolute lifetime, when
//     its store ends it, or when revoked at the same grains as tokens
//     (login, user not-before). A value is honoured only if a login minted
//     it (no fixation). Requests carrying the cookie need CSRF protection
//     (secure.CSRF), which is not this package's job.
//   - Credentials are never written to an Identity, an error or a log.
package auth
