// Package warden is a security-first request pipeline for net/http.
//
// A Router wraps http.ServeMux. Every request passes, outermost first,
// through panic recovery, a request id and a structured access log (with
// credentials redacted), header count and size limits, client-IP
// resolution (forwarding headers believed only from trusted proxies) and
// security headers. Each route then declares, on the line that registers
// it, its CORS policy, body limit, authentication backends, rate limits and
// guards; that per-route chain is composed once, at registration:
//
//	r, err := warden.NewRouter(warden.Config{})
//	r.Post("/api/books", createBook,
//		warden.Auth(jwtBackend, apiKeys),
//		warden.Require(guard.HasPermission("books.add_book")),
//		warden.Limit(perUser, ratelimit.ByUser()))
//
// Handlers stay plain http.Handlers and read the caller with
// auth.FromContext. Errors are RFC 9457 problem documents (package problem);
// unknown paths and methods answer 404 and 405 problems too.
package warden
