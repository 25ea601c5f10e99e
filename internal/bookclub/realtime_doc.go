package bookclub

import "github.com/wardenhq/warden"

// The Doc options of the realtime routes (realtime.go).

var (
	docTicket = warden.Doc(warden.Operation{
		Summary: "A one-time ticket for a chat socket or an event stream",
		Description: "The ticket stands for the caller's login for 30 seconds and opens one connection: GET /ws/chat/{room_id}?ticket= or GET /api/events?ticket=. " +
			"It keeps access tokens out of URLs (and so out of proxy logs). The connection it opens ends when the login is revoked. Limited per user: a burst of 30, then one a second.",
		Tags:      []string{"chat"},
		Responses: map[int]any{200: ticketResponse{}, 503: warden.Problem("The ticket store is not answering; retry after Retry-After.")},
	})
	docChatSocket = warden.Doc(warden.Operation{
		Summary: "A chat room's WebSocket",
		Description: "Upgrades to a WebSocket. The client sends {\"message\": \"...\"} (1 to 1000 characters of plain text after markup is stripped); " +
			"every member connected to the room, on any instance, receives {\"type\": \"chat_message\", \"message\", \"user\", \"timestamp\"}; an invalid message gets {\"type\": \"error\", \"message\"} and is not broadcast. " +
			"Refused before the upgrade: an Origin that is neither this server's nor an allowed origin (403), the process's or the user's connection cap (503, 429, with Retry-After). " +
			"Close codes after it: 4001 bad, used or expired ticket, or the login was revoked; 4003 not a member, removed, or no such room; 1009 message too large; 1008 message flood; 1013 the client fell behind; 1001 server shutting down.",
		Tags:  []string{"chat"},
		Query: []warden.Param{{Name: "ticket", Required: true, Description: "A ticket from POST /api/ws-ticket."}},
		Path:  []warden.Param{{Name: "room_id", Type: int64(0), Description: "The room's id."}},
		Responses: map[int]any{
			101: warden.Response{Description: "Switching to the WebSocket protocol."},
			403: warden.Problem("The Origin header names another site."),
			429: warden.Problem("The user has too many open sockets; retry after Retry-After."),
			503: warden.Problem("The server has too many open sockets; retry after Retry-After."),
		},
	})
	docEvents = warden.Doc(warden.Operation{
		Summary: "The caller's events, as Server-Sent Events",
		Description: "text/event-stream of the caller's events: follower ({\"username\"}), follow_request ({\"username\"}) and chat_message ({\"room_id\", \"message\", \"user\", \"timestamp\"}), " +
			"with a comment line at least every 30 seconds. Authenticated by a bearer token, the browser-mode session cookie (which an EventSource on the same site sends), or, for an EventSource that cannot send either, by ?ticket= from POST /api/ws-ticket. " +
			"The stream ends when the login is revoked. Delivery is at most once: after a reconnect, read what was missed from the lists (chat history, follow requests).",
		Tags:  []string{"chat"},
		Query: []warden.Param{{Name: "ticket", Description: "A ticket from POST /api/ws-ticket, instead of the Authorization header."}},
		Responses: map[int]any{
			200: warden.Response{Description: "The event stream.", Body: "", ContentType: "text/event-stream"},
			429: warden.Problem("The user has too many open streams; retry after Retry-After."),
			503: warden.Problem("The server has too many open streams, or the revocation list is not answering; retry after Retry-After."),
		},
	})
)
