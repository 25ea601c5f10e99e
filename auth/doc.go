// Package auth establishes who made a request: JWT and API-key backends, the
// Identity they produce and the middleware that runs them.
//
// Contract and threat model:
//   - A backend returns (nil, nil) when the request carries no credential of
//     its kind, an Identity when the credential is valid, and an error
//     wrapping ErrInvalidCredentials (answered 401 with WWW-Authenticate) or
//     ErrUnavailable (answered 503: a security decision that cannot be made
//     is refused, never waved through).
//   - JWT: every key is bound to exactly one algorithm and a token's "alg"
//     must equal its key's, so "none", HS/RS key confusion and algorithm
//     downgrades fail. A "kid" only selects among configured keys; the jwk,
//     jku, x5u and x5c headers are never consulted. "exp" is required;
//     issuer, audience and type are checked when configured. Tokens over
//     MaxTokenBytes are refused before any parsing.
//   - API keys are compared in constant time against SHA-256 digests; a
//     key's identity names its id, never its secret.
//   - Credentials are never written to an Identity, an error or a log.
package auth
