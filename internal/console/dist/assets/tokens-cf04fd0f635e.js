// One-time tokens from emailed links (/verify-email?token=...,
// /reset-password?token=...). This module runs before any other code of
// the console: it takes the token out of the address bar at once
// (history.replaceState, so it is in neither the history nor a bookmark
// nor a later Referer — the pages are also served with Referrer-Policy:
// no-referrer), and hands it out once, to the view that POSTs it.

const pages = { "/verify-email": "verify", "/reset-password": "reset" };
const taken = {};

(function capture() {
  const path = location.pathname.replace(/\/$/, "");
  const kind = pages[path];
  const params = new URLSearchParams(location.search);
  if (!params.has("token")) return;
  const token = params.get("token");
  params.delete("token");
  const rest = params.toString();
  history.replaceState(null, "", path + (rest ? "?" + rest : "") + location.hash);
  // A token on any other page is dropped, not kept.
  if (kind && token) taken[kind] = token;
})();

// takeToken returns the token captured for kind ("verify" or "reset")
// and forgets it: a reload cannot send it twice.
export function takeToken(kind) {
  const t = taken[kind] || "";
  delete taken[kind];
  return t;
}
