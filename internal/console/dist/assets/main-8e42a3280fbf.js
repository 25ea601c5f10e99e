// The console's entry point. tokens.js is imported first so that a token
// from an emailed link leaves the address bar before anything else runs.
import "./tokens-cf04fd0f635e.js";
import { whenSessionLost } from "./api-46da1c50a26d.js";
import { h, button, link, clear } from "./dom-f5008c632d85.js";
import { route, start, navigate } from "./router-3f22e348579e.js";
import * as session from "./session-3eed47193340.js";
import * as realtime from "./realtime-ae6baefbb245.js";
import { loginView, registerView, verifyView, resetView } from "./view-auth-4addec94e259.js";
import { homeView, booksView, bookView } from "./view-books-f358122368a3.js";
import { peopleView, profileView } from "./view-users-a0118b764093.js";
import { accountView } from "./view-account-ba047aac1760.js";
import { roomsView, roomView } from "./view-chat-6d3263e4539d.js";

// signedIn wraps a view that needs a login: without one it sends the
// reader to the login page, which brings them back.
function signedIn(view) {
  return (ctx) => {
    if (!session.current()) {
      navigate("/login?next=" + encodeURIComponent(location.pathname + location.search), { replace: true, flash: "Log in to see that page." });
      return "Log in";
    }
    return view(ctx);
  };
}

route("/", homeView);
route("/login", loginView);
route("/register", registerView);
route("/verify-email", verifyView);
route("/reset-password", resetView);
route("/books", booksView);
route("/books/:id", bookView);
route("/users", peopleView);
route("/users/:username", profileView);
route("/account", signedIn(accountView));
route("/chat", signedIn(roomsView));
route("/chat/:id", signedIn(roomView));

// The page's frame: skip link, header with navigation and notifications,
// the live region every view announces through, and <main>.
const live = h("div", { class: "visually-hidden", role: "status", "aria-live": "polite" });
const toasts = h("div", { class: "toasts", role: "log", "aria-live": "polite", "aria-label": "Notifications" });
const nav = h("nav", { "aria-label": "Main" });
const main = h("main", { id: "main", tabindex: "-1" });
const noticeList = h("ul", { class: "notice-list", "aria-label": "Recent notifications" });
const noticeCount = h("span", { class: "badge", hidden: true });
const noticeBtn = button(["Notifications ", noticeCount], () => toggleNotices(), { class: "secondary", "aria-expanded": "false", "aria-controls": "notices" });
const noticePanel = h("div", { id: "notices", class: "notices panel", hidden: true },
  h("h2", null, "Notifications"), noticeList,
  button("Clear", () => {
    clear(noticeList);
    setCount(0);
  }, { class: "secondary" }));
let unread = 0;

function setCount(n) {
  unread = n;
  noticeCount.textContent = String(n);
  noticeCount.hidden = n === 0;
  noticeBtn.setAttribute("aria-label", n ? `Notifications, ${n} new` : "Notifications");
}

function toggleNotices() {
  const open = noticePanel.hidden;
  noticePanel.hidden = !open;
  noticeBtn.setAttribute("aria-expanded", String(open));
  if (open) {
    setCount(0);
    noticePanel.querySelector("h2").setAttribute("tabindex", "-1");
    noticePanel.querySelector("h2").focus();
  }
}

// notify shows an event: a toast (announced), and an entry in the list.
function notify(parts, path) {
  const entry = () => h("li", null, path ? link(path, ...parts) : parts);
  noticeList.prepend(entry());
  while (noticeList.children.length > 50) noticeList.lastChild.remove();
  setCount(unread + 1);
  const toast = h("p", { class: "toast" }, parts);
  toasts.append(toast);
  setTimeout(() => toast.remove(), 8000);
}

function say(text) {
  live.textContent = text;
}

function drawNav() {
  const me = session.current();
  const items = [link("/", "Home"), link("/books", "Books"), link("/users", "People")];
  if (me) items.push(link("/chat", "Chat"), link("/account", "Account"));
  else items.push(link("/login", "Log in"), link("/register", "Register"));
  const bar = [h("ul", null, items.map((a) => h("li", null, a)))];
  if (me) {
    bar.push(h("div", { class: "who" },
      noticeBtn,
      button("Log out", async () => {
        await session.logout().catch(() => {});
        navigate("/", { flash: "You are logged out." });
      }, { class: "secondary" })));
  }
  nav.replaceChildren(...bar);
  for (const a of nav.querySelectorAll("a[href]")) {
    if (new URL(a.href).pathname === location.pathname) a.setAttribute("aria-current", "page");
  }
}

// The event stream runs while someone is signed in.
let stopEvents = null;
function followEvents(me) {
  if (stopEvents) {
    stopEvents();
    stopEvents = null;
  }
  noticePanel.hidden = true;
  clear(noticeList);
  setCount(0);
  if (!me) return;
  stopEvents = realtime.events({
    follower: (d) => notify([String(d.username), " followed you."], "/users/" + encodeURIComponent(d.username)),
    follow_request: (d) => notify([String(d.username), " asked to follow you."], "/account"),
    chat_message: (d) => {
      // The open room shows its own messages.
      if (location.pathname.replace(/\/$/, "") === "/chat/" + d.room_id) return;
      notify([String(d.user), ": ", String(d.message).slice(0, 140)], "/chat/" + encodeURIComponent(d.room_id));
    },
  }, sessionEnded);
}

// sessionEnded runs when the server no longer takes the cookie (it
// expired, or the login was ended elsewhere): the reader is told and
// taken to the login page, which brings them back.
function sessionEnded() {
  if (!session.current()) return;
  session.lost();
  navigate("/login?next=" + encodeURIComponent(location.pathname), { flash: "Your session has ended. Please log in again." });
}

// Leaving the page (or its entering the back/forward cache) ends the
// stream at once, rather than when the browser gets round to it: the
// server caps streams per user. A page restored from that cache opens it
// again.
addEventListener("pagehide", () => {
  if (stopEvents) {
    stopEvents();
    stopEvents = null;
  }
});
addEventListener("pageshow", (ev) => {
  if (ev.persisted) followEvents(session.current());
});

session.onChange((me) => {
  drawNav();
  followEvents(me);
});

whenSessionLost(sessionEnded);

document.body.append(
  h("a", { class: "skip", href: "#main" }, "Skip to content"),
  h("header", { class: "top" }, h("p", { class: "brand" }, link("/", "Warden book club")), nav),
  noticePanel,
  main,
  toasts,
  live,
);
drawNav();

(async () => {
  try {
    await session.refresh();
  } catch {
    // The server is unreachable: the views say so when they load.
  }
  // session.onChange has drawn the navigation and opened the event
  // stream if the cookie names someone.
  await start(main, say);
})();
