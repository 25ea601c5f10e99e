// Live updates: the notification stream (Server-Sent Events, with the
// session cookie, which a same-origin EventSource sends) and chat sockets
// (WebSocket, opened with a one-time ticket: the cookie authenticates the
// ticket request, the ticket the socket). Both reconnect with capped
// exponential backoff and jitter, and stop for good when the server says
// the login or the membership is over.
import { post, get, seg } from "./api.js";

// backoff returns the delay before attempt n (from 0): 1 s doubling to
// 30 s, each with up to half again of random jitter, so that clients a
// restart cut off do not all come back at once.
export function backoff(n) {
  const base = Math.min(30000, 1000 * 2 ** Math.min(n, 5));
  return base + Math.floor(Math.random() * base * 0.5);
}

// events opens the caller's event stream and calls on[type](data) for
// each event (follower, follow_request, chat_message). onLost() runs when
// the session is gone. It returns a function that closes the stream.
export function events(on, onLost) {
  let es = null;
  let attempt = 0;
  let timer = null;
  let closed = false;
  const open = () => {
    if (closed) return;
    es = new EventSource("/api/events");
    es.addEventListener("open", () => {
      attempt = 0;
    });
    for (const type of Object.keys(on)) {
      es.addEventListener(type, (ev) => {
        let data;
        try {
          data = JSON.parse(ev.data);
        } catch {
          return;
        }
        on[type](data);
      });
    }
    es.addEventListener("error", () => {
      // CONNECTING: the browser retries by itself (a dropped stream).
      // CLOSED: the server refused (401, 429, 503...): find out whether
      // the session is still good, then retry later ourselves.
      if (closed || es.readyState !== EventSource.CLOSED) return;
      es = null;
      const delay = backoff(attempt++);
      timer = setTimeout(async () => {
        timer = null;
        try {
          await get("/api/auth/me", { anonymous: true });
        } catch (err) {
          if (err.status === 401) {
            closed = true;
            onLost();
            return;
          }
        }
        open();
      }, delay);
    });
  };
  open();
  return () => {
    closed = true;
    if (timer) clearTimeout(timer);
    if (es) es.close();
  };
}

// Close codes of the chat socket (API.md).
const CLOSE_TICKET = 4001;
const CLOSE_NOT_MEMBER = 4003;
const CLOSE_TOO_BIG = 1009;
const CLOSE_FLOOD = 1008;

// chat connects to room roomId. handlers: message(frame) for each
// chat_message, error(text) for an error frame, state(text, ok) as the
// connection comes and goes, ended(reason, code) when it will not come
// back (code 4001: log in again; 4003: not a member). It returns
// {send(text) -> bool, close()}.
export function chat(roomId, handlers) {
  let ws = null;
  let attempt = 0;
  let timer = null;
  let closed = false;
  const retry = (why) => {
    const delay = backoff(attempt++);
    handlers.state(`${why} Reconnecting in ${Math.round(delay / 1000)} s…`, false);
    timer = setTimeout(connect, delay);
  };
  const end = (reason, code) => {
    closed = true;
    handlers.state(reason, false);
    handlers.ended(reason, code);
  };
  async function connect() {
    timer = null;
    if (closed) return;
    handlers.state("Connecting…", false);
    let ticket;
    try {
      ({ ticket } = await post("/api/ws-ticket", undefined, { anonymous: true }));
    } catch (err) {
      if (closed) return;
      if (err.status === 401) return end("Your session has ended. Log in again to chat.", CLOSE_TICKET);
      return retry(err.message);
    }
    if (closed) return;
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    ws = new WebSocket(`${scheme}//${location.host}/ws/chat/${seg(roomId)}?ticket=${encodeURIComponent(ticket)}`);
    ticket = null;
    ws.addEventListener("open", () => {
      attempt = 0;
      handlers.state("Connected.", true);
    });
    ws.addEventListener("message", (ev) => {
      let frame;
      try {
        frame = JSON.parse(ev.data);
      } catch {
        return;
      }
      if (frame && frame.type === "chat_message") handlers.message(frame);
      else if (frame && frame.type === "error") handlers.error(String(frame.message || "The message was refused."));
    });
    ws.addEventListener("close", async (ev) => {
      ws = null;
      if (closed) return;
      switch (ev.code) {
        case CLOSE_NOT_MEMBER:
          return end("You are not a member of this room (or you were removed).", CLOSE_NOT_MEMBER);
        case CLOSE_TICKET:
          // A used or late ticket, or the login was revoked: only the
          // server knows which.
          try {
            await get("/api/auth/me", { anonymous: true });
          } catch (err) {
            if (err.status === 401) return end("Your session has ended. Log in again to chat.", CLOSE_TICKET);
          }
          return retry("The connection was refused.");
        case CLOSE_TOO_BIG:
          return retry("That message was too large.");
        case CLOSE_FLOOD:
          return retry("Too many messages too fast.");
        default:
          return retry("The connection was lost.");
      }
    });
  }
  connect();
  return {
    send(text) {
      if (!ws || ws.readyState !== WebSocket.OPEN) return false;
      ws.send(JSON.stringify({ message: text }));
      return true;
    },
    close() {
      closed = true;
      if (timer) clearTimeout(timer);
      if (ws) ws.close(1000);
    },
  };
}
