// Package ws accepts hardened WebSocket connections on any net/http route,
// on top of github.com/coder/websocket.
//
// Threat model. The peer is hostile: it controls every byte it sends, how
// fast it sends and whether it reads at all. Browsers on other sites are
// hostile too: a WebSocket handshake is not subject to CORS, so a page
// anywhere can open one to Warden with the victim's cookies
// (cross-site WebSocket hijacking) unless the server checks Origin.
//
// # Before the upgrade
//
// Server.Accept refuses, with an RFC 9457 problem document and before any
// upgrade, in this order:
//   - 403 (ErrOrigin) a browser request from an origin that is not allowed.
//     A request without Origin (a non-browser client, which cannot carry a
//     victim's cookies) is allowed; so is an Origin whose host and port are
//     the request's Host; any other origin only when Config.AllowOrigin
//     says so. "null", an unparsable Origin and several Origin fields are
//     always refused. Same-origin is judged against the Host header, so a
//     DNS-rebinding page passes it: authenticate the connection (a one-time
//     ticket, a cookie bound to the real host), never trust the origin alone.
//   - 503 (ErrShuttingDown) after Shutdown began, and 503 (ErrCapacity)
//     when MaxConns connections are open in this process, with Retry-After.
//   - 429 (ErrUserCapacity) when the user already holds MaxPerUser
//     connections, with Retry-After. The user cap applies only when Accept
//     is given a user key.
//   - any status the upgrade itself fails with (426 for a request that is
//     not a WebSocket handshake, 405, 400), also as a problem document.
//
// A route that spends something before Accept (a one-time ticket) checks
// Server.OriginAllowed first and answers with Server.RefuseOrigin, so that
// another site's page can neither use up nor probe a ticket.
//
// Slots are counted exactly under concurrency: a connection holds one
// process slot and, with a user key, one user slot, from before the
// upgrade until the connection has fully ended; each is released exactly
// once.
//
// # After the upgrade
//
// Conn.Read returns the next text message. It closes the connection, and
// from then on returns an error wrapping ErrClosed, on:
//   - 1009 message too big: a message over Config.ReadLimit (ErrMessageTooLarge);
//     the peer receives close code 1009 before anything beyond the limit is
//     buffered, whatever the frames claim.
//   - 1008 policy violation: more messages than the per-connection token
//     bucket (MessageRate per second, MessageBurst at once) allows (ErrFlood).
//   - 1003 unsupported data: a binary message (ErrBinary).
//   - 1007 invalid payload: a text message that is not UTF-8 (ErrInvalidUTF8),
//     which RFC 6455 requires an endpoint to refuse.
//
// Conn.Send queues a text message without ever blocking the caller (a
// broadcaster must not wait for its slowest reader). One writer goroutine
// per connection writes the queue, each write bounded by WriteTimeout. A
// peer that does not keep up, so that SendBuffer messages are waiting or a
// write times out, is a slow consumer: it is closed with 1013 (try again
// later) instead of being buffered without bound.
//
// Keepalive: every PingInterval the writer sends a ping; a pong not
// received within PongTimeout means the peer is gone, and the connection
// is dropped without a close handshake (CloseStatus reports 1006). Pongs
// are handled while the caller is inside Read, so the caller must keep
// reading for as long as it wants the connection; a route that only sends
// still loops on Read and discards what it gets. The context given to Read
// bounds the connection: when it ends, the connection closes with 1001.
//
// Close codes 4000-4999 belong to the application (Warden's chat uses 4001
// and 4003) and are sent with Conn.Close. Server.Shutdown refuses new
// connections, closes every open one with 1001 (going away) and waits.
// Every close sends its close frame at once (after a write in progress)
// and waits at most WriteTimeout for the peer's answer before dropping the
// socket, so a peer cannot hold a slot by not answering.
//
// The server's http.Server deadlines (ReadTimeout, WriteTimeout) are
// cleared on upgraded connections: they bound one request, and would
// otherwise cut every WebSocket after that long; the limits above take
// over.
//
// Logging: opens, closes and refusals are logged with the path, request
// id and user key, never the query string (it may carry a one-time
// ticket) and never message contents.
package ws
