// The client-side router: one table of paths (the server serves the
// page at each, see internal/console), history navigation, and on every
// change of view the title, the focus (to the new view's heading, so a
// screen reader starts there) and the end of whatever the old view had
// open (sockets, streams).
import { h, clear } from "./dom-f5008c632d85.js";
import { errorBox } from "./forms-4de2491e1295.js";

const table = [];
let outlet = null;
let seq = 0;
let leave = null;
let announce = null;
let rendered = false;

// route adds a view for a path: "/books/:id" binds params.id.
export function route(path, view) {
  const keys = [];
  const re = new RegExp("^" + path.replace(/:([a-z]+)/g, (_, k) => (keys.push(k), "([^/]+)")) + "/?$");
  table.push({ path, re, keys, view });
}

// paths lists the registered paths, for the check against the server's.
export function paths() {
  return table.map((r) => r.path);
}

function match(pathname) {
  for (const r of table) {
    const m = r.re.exec(pathname);
    if (!m) continue;
    const params = {};
    r.keys.forEach((k, i) => {
      try {
        params[k] = decodeURIComponent(m[i + 1]);
      } catch {
        params[k] = m[i + 1];
      }
    });
    return { r, params };
  }
  return null;
}

// isConsolePath reports whether a same-origin path is one of the views
// (not an API route, a media file or an asset).
export function isConsolePath(pathname) {
  return match(pathname) !== null;
}

// navigate shows the view of path (a path of this origin with an
// optional query) and records it in the history.
export function navigate(path, opts) {
  const url = new URL(path, location.origin);
  if (url.origin !== location.origin) throw new Error("navigate: not this origin");
  if (opts && opts.replace) history.replaceState(null, "", url.pathname + url.search);
  else history.pushState(null, "", url.pathname + url.search);
  return render(opts && opts.flash);
}

// reload shows the current view again.
export function reload(flash) {
  return render(flash);
}

// start takes over the page: outlet is the <main> element; say(text)
// announces through the page's live region.
export function start(main, say) {
  outlet = main;
  announce = say;
  addEventListener("popstate", () => render());
  // The same for the view's sockets as for the event stream (main.js):
  // closed when the page is left, opened again if it comes back.
  addEventListener("pagehide", () => {
    if (leave) {
      leave.abort();
      leave = null;
    }
  });
  addEventListener("pageshow", (ev) => {
    if (ev.persisted) render();
  });
  document.addEventListener("click", (ev) => {
    if (ev.defaultPrevented || ev.button !== 0 || ev.metaKey || ev.ctrlKey || ev.shiftKey || ev.altKey) return;
    const a = ev.target instanceof Element ? ev.target.closest("a[href]") : null;
    if (!a || a.target || a.hasAttribute("download")) return;
    const url = new URL(a.href, location.href);
    if (url.origin !== location.origin || !isConsolePath(url.pathname)) return;
    // A link within the page (the skip link) is the browser's to follow.
    if (url.hash && url.pathname === location.pathname && url.search === location.search) return;
    ev.preventDefault();
    navigate(url.pathname + url.search);
  });
  return render();
}

async function render(flash) {
  const mine = ++seq;
  if (leave) {
    leave.abort();
    leave = null;
  }
  const found = match(location.pathname);
  const page = h("div", { class: "view" });
  const ctrl = new AbortController();
  let title = "Not found";
  outlet.setAttribute("aria-busy", "true");
  try {
    if (!found) {
      page.append(h("h1", { tabindex: "-1" }, "Page not found"), h("p", null, "There is nothing at this address."));
    } else {
      const query = new URLSearchParams(location.search);
      title = (await found.r.view({ page, params: found.params, query, signal: ctrl.signal })) || "";
    }
  } catch (err) {
    if (mine !== seq) return;
    clear(page).append(h("h1", { tabindex: "-1" }, "Something went wrong"), errorBox(err));
    title = "Error";
  }
  if (mine !== seq) {
    ctrl.abort(); // a newer navigation won: close what this view opened
    return;
  }
  leave = ctrl;
  if (flash) page.prepend(h("p", { class: "flash", role: "status" }, flash));
  outlet.removeAttribute("aria-busy");
  outlet.replaceChildren(page);
  document.title = title ? title + " · Warden book club" : "Warden book club";
  // After a change of view, focus goes to its heading, so that a screen
  // reader reads the new view and Tab continues from there. Not on the
  // first view: a page that has just loaded starts at its top, where the
  // skip link is.
  const heading = page.querySelector("h1");
  if (heading) {
    heading.setAttribute("tabindex", "-1");
    if (rendered) heading.focus();
  }
  rendered = true;
  if (announce) announce(flash || "");
  for (const a of document.querySelectorAll("nav a[href]")) {
    if (new URL(a.href).pathname === location.pathname) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
}

// safeNext returns path if it is a console view of this origin (the
// ?next= of the login page), else "/": no open redirect.
export function safeNext(path) {
  if (typeof path !== "string" || !path.startsWith("/") || path.startsWith("//") || path.startsWith("/\\")) return "/";
  try {
    const url = new URL(path, location.origin);
    return url.origin === location.origin && isConsolePath(url.pathname) ? url.pathname + url.search : "/";
  } catch {
    return "/";
  }
}
