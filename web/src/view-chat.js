// Chat rooms: the rooms one belongs to, creating one, and a room's page
// with its history, live messages over the WebSocket, members (the
// creator adds; anyone leaves) and what the close codes mean.
import { get, post, del, q, seg } from "./api.js";
import { h, field, button, link, time } from "./dom.js";
import { form, value, errorBox } from "./forms.js";
import { navigate } from "./router.js";
import { pager } from "./view-books.js";
import * as session from "./session.js";
import * as realtime from "./realtime.js";

const MAX_MESSAGE = 1000;

export async function roomsView({ page }) {
  page.append(
    h("h1", null, "Chat rooms"),
    h("details", { class: "panel" }, h("summary", null, "Create a room"), form({
      label: "Create a room",
      submit: "Create room",
      children: [field({ label: "Room name", name: "name", required: true, maxlength: 100 }).wrap],
      async onSubmit(el) {
        const room = await post("/api/chat/rooms", { name: value(el, "name") });
        navigate("/chat/" + seg(room.id), { flash: "Room created. Add members below." });
      },
    })),
    await pager({
      list: h("ul", { class: "list", "aria-label": "Your rooms" }),
      fetchPage: (cursor) => get("/api/chat/rooms" + q({ cursor })),
      item: (r) => h("li", { class: "item" },
        h("h2", { class: "item-title" }, link("/chat/" + seg(r.id), r.name)),
        h("p", { class: "muted" }, r.created_by ? ["Created by ", r.created_by, " · "] : null, time(r.created_at))),
      empty: "You are not in any room yet. Create one, or ask a room’s creator to add you.",
      more: "Load more rooms",
    }),
  );
  return "Chat rooms";
}

// findRoom looks the room up among the caller's rooms (there is no
// single-room route): its name and creator, or null if not a member.
async function findRoom(id, signal) {
  let cursor = null;
  for (let pages = 0; pages < 20 && !signal.aborted; pages++) {
    const res = await get("/api/chat/rooms" + q({ cursor, page_size: 100 }));
    const hit = (res.results || []).find((r) => String(r.id) === String(id));
    if (hit) return hit;
    if (!res.next) return null;
    cursor = res.next;
  }
  return null;
}

function messageItem(m) {
  return h("li", { class: "msg" },
    h("p", { class: "msg-meta" }, h("strong", null, m.user || "a former member"), " ", time(m.timestamp)),
    h("p", { class: "msg-text" }, m.message));
}

const keyOf = (m) => `${m.user}\u0000${m.timestamp}\u0000${m.message}`;

export async function roomView({ page, params, signal }) {
  const id = params.id;
  const me = session.current();
  const room = await findRoom(id, signal);
  if (!room) {
    page.append(h("h1", null, "Room not found"), h("p", null, "There is no such room, or you are not one of its members."), h("p", null, link("/chat", "Your rooms")));
    return "Room not found";
  }
  const log = h("ol", { class: "chat-log", role: "log", "aria-live": "polite", "aria-label": "Messages", tabindex: "0" });
  const state = h("p", { class: "chat-state", role: "status" }, "Connecting…");
  const errors = h("p", { class: "field-error", role: "alert", hidden: true });
  const input = h("textarea", { id: "chat-input", name: "message", rows: 2, maxlength: MAX_MESSAGE, required: true, "aria-describedby": "chat-hint" });
  const send = h("button", { type: "submit", disabled: true }, "Send");
  const composer = h("form", { class: "composer", "aria-label": "Send a message" },
    h("label", { for: "chat-input" }, "Message"),
    h("p", { class: "hint", id: "chat-hint" }, `1 to ${MAX_MESSAGE} characters. Enter sends; Shift+Enter starts a new line.`),
    input, errors, h("div", { class: "actions" }, send));

  // History and the live socket: live messages that arrive before the
  // first page of history are held, then added unless the page has them.
  let historyLoaded = false;
  const held = [];
  const seen = new Set();
  const addLive = (m) => {
    const k = keyOf(m);
    if (seen.has(k)) return;
    seen.add(k);
    const stick = log.scrollTop + log.clientHeight >= log.scrollHeight - 40;
    log.append(messageItem(m));
    if (stick) log.scrollTop = log.scrollHeight;
  };
  const conn = realtime.chat(id, {
    message(frame) {
      if (historyLoaded) addLive(frame);
      else held.push(frame);
    },
    error(text) {
      errors.textContent = text;
      errors.hidden = false;
    },
    state(text, ok) {
      state.textContent = text;
      send.disabled = !ok;
    },
    ended(reason, code) {
      send.disabled = true;
      input.disabled = true;
      if (code === 4001) {
        session.lost();
        state.replaceChildren(reason, " ", link("/login?next=" + encodeURIComponent("/chat/" + id), "Log in"));
      }
    },
  });
  signal.addEventListener("abort", () => conn.close());

  let older = null;
  const olderBtn = button("Load earlier messages", async () => {
    olderBtn.disabled = true;
    try {
      await loadPage(older);
    } catch (err) {
      olderBtn.after(errorBox(err));
    } finally {
      olderBtn.disabled = false;
    }
  }, { class: "secondary", hidden: true });
  async function loadPage(cursor) {
    const res = await get(`/api/chat/rooms/${seg(id)}/messages` + q({ cursor }));
    // Newest first from the API; the log reads top to bottom, oldest first.
    const items = (res.results || []).slice().reverse();
    const first = log.firstChild;
    for (const m of items) {
      seen.add(keyOf(m));
      log.insertBefore(messageItem(m), first);
    }
    older = res.next || null;
    olderBtn.hidden = !older;
  }
  try {
    await loadPage(null);
  } catch (err) {
    conn.close();
    throw err;
  }
  historyLoaded = true;
  held.splice(0).forEach(addLive);

  composer.addEventListener("submit", (ev) => {
    ev.preventDefault();
    errors.hidden = true;
    const text = input.value.trim();
    const n = [...text].length;
    if (n < 1 || n > MAX_MESSAGE) {
      errors.textContent = `A message is 1 to ${MAX_MESSAGE} characters.`;
      errors.hidden = false;
      input.focus();
      return;
    }
    if (conn.send(text)) input.value = "";
    else {
      errors.textContent = "Not connected; the message was not sent.";
      errors.hidden = false;
    }
    input.focus();
  });
  input.addEventListener("keydown", (ev) => {
    if (ev.key === "Enter" && !ev.shiftKey && !ev.isComposing) {
      ev.preventDefault();
      composer.requestSubmit();
    }
  });

  const isCreator = me && room.created_by === me.username;
  const members = h("details", { class: "panel" }, h("summary", null, "Members"),
    isCreator ? h("h2", null, "Add a member") : null,
    isCreator ? form({
      label: "Add a member",
      submit: "Add member",
      children: [field({ label: "Username", name: "username", required: true, autocapitalize: "none", spellcheck: "false", maxlength: 150 }).wrap],
      async onSubmit(el) {
        const name = value(el, "username");
        await post(`/api/chat/rooms/${seg(id)}/members`, { username: name });
        el.reset();
        return `${name} is now a member.`;
      },
    }) : null,
    isCreator ? h("h2", null, "Remove a member") : null,
    isCreator ? form({
      label: "Remove a member",
      submit: "Remove member",
      children: [field({ label: "Username", name: "username", required: true, autocapitalize: "none", spellcheck: "false", maxlength: 150 }).wrap],
      async onSubmit(el) {
        const name = value(el, "username");
        await del(`/api/chat/rooms/${seg(id)}/members/${seg(name)}`);
        el.reset();
        return `${name} was removed.`;
      },
    }) : null,
    h("h2", null, "Leave"),
    h("p", null, button("Leave this room", async (ev) => {
      if (!confirm("Leave this room? You will need to be added again to come back.")) return;
      ev.target.disabled = true;
      try {
        await del(`/api/chat/rooms/${seg(id)}/members/me`);
        navigate("/chat", { flash: "You left the room." });
      } catch (err) {
        ev.target.disabled = false;
        ev.target.after(errorBox(err));
      }
    }, { class: "danger" })),
  );

  page.append(
    h("p", { class: "crumbs" }, link("/chat", "Chat rooms")),
    h("h1", null, room.name),
    state,
    h("div", { class: "chat" }, olderBtn, log, composer),
    members,
  );
  queueMicrotask(() => (log.scrollTop = log.scrollHeight));
  return room.name;
}
