// Package warden is a security-first request pipeline for net/http.
//
// A Router wraps http.ServeMux. Every request passes, outermost first,
// through panic recovery, a request id and a structured access log (with
// credentials redacted), header count and size limits, client-IP
// resolution (forwarding headers believed only from trusted proxies),
// security headers and any router-wide middleware added with Use. Each
// route then declares, on the line that registers it, its CORS policy, body
// limit, authentication backends, rate limits and guards; that per-route
// chain is composed once, at registration:
//
//	r, err := warden.NewRouter(warden.Config{})
//	r.Group("/api/books", func(r *warden.Router) {
//		r.Get("/", listBooks, warden.Require(guard.AllowAny))
//		r.With(warden.Auth(jwtBackend, apiKeys)).Post("/", createBook,
//			warden.Require(guard.HasPermission("books.add_book")),
//			warden.Limit(perUser, ratelimit.ByUser()))
//	})
//
// With returns a view of the router whose routes all get some options;
// Group adds a path prefix. Handlers stay plain http.HandlerFuncs (or any
// http.Handler, through Handle), read the caller with auth.FromContext and
// the request id with RequestID. Responses are written with WriteJSON;
// errors are RFC 9457 problem documents (package problem); unknown paths
// and methods answer 404 and 405 problems too.
package warden
