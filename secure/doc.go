// Package secure holds Warden's transport-level defences: client IP
// resolution, security headers, CORS, request limits, strict JSON
// decoding and server timeouts. Each is a net/http middleware (or a type
// with a Handler method) configured once at start-up; a setting that
// would be insecure is refused with an error that says how to fix it,
// and the zero value of every option struct is the strict default.
//
// Threat model. The client is hostile and controls every byte of its
// request: headers, their number and size, the body and its declared
// length, and any forwarding header it cares to add. Browsers visiting
// other sites are hostile too: they may send credentialed requests to
// Warden and try to read, frame or sniff the answers. Warden is trusted,
// and so are the reverse proxies the operator lists in TrustedProxies,
// for exactly one thing: the hop they append to X-Forwarded-For and the
// X-Forwarded-Proto they set.
//
// What the package guarantees:
//   - A client cannot choose its own IP: forwarding headers are read only
//     when the TCP peer is a trusted proxy, and then only the right-most
//     hop a trusted proxy wrote is believed (ClientIPFrom).
//   - Every response that passes through Headers carries nosniff, frame
//     denial, no-referrer, a deny-all CSP and same-origin COOP/CORP; HSTS
//     is added when HTTPS is known (TLS, production, or a trusted proxy).
//   - CORS headers are only ever sent to an origin listed exactly; there
//     is no wildcard, no "null", no pattern and no reflection of unlisted
//     origins, and an empty list allows nothing.
//   - Header count and size, and body size, are bounded before handlers
//     spend work on them; DecodeJSON accepts exactly one JSON value with
//     no repeated member names, of the declared media type.
//   - CSRF refuses every unsafe request that carries the session cookie
//     and that a browser did not send from this site or a trusted origin
//     (Fetch metadata, then Origin, as net/http's CrossOriginProtection),
//     and, unlike CrossOriginProtection, one carrying neither header.
//   - Hosts answers 400 to a request for a name the server was not told
//     it has, so that a page on a rebinding DNS name cannot read answers
//     as same-origin.
//
// X-XSS-Protection is deliberately not sent: the filter it controlled is
// gone from every current browser, and where it survived its "block" mode
// could be abused to blank or probe pages; the strict Content-Security-
// Policy (no script at all by default) is what stops injected script.
//
// Out of scope: TLS itself, rate limiting, and denial of service below
// HTTP, which ApplyServerLimits only mitigates with timeouts.
package secure
