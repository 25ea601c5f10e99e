// The signed-in user, as GET /api/auth/me answers it, or null. The
// session itself is the HttpOnly cookie, which this script cannot read:
// asking the server is the only way to know whether it is still good.
import { get, post } from "./api-46da1c50a26d.js";

let user = null;
const listeners = new Set();

// current returns the signed-in user or null.
export function current() {
  return user;
}

// onChange calls fn(user) whenever the user signs in or out.
export function onChange(fn) {
  listeners.add(fn);
}

function set(u) {
  const changed = (user && user.id) !== (u && u.id);
  user = u;
  if (changed) for (const fn of listeners) fn(u);
}

// refresh asks the server who the cookie belongs to.
export async function refresh() {
  try {
    set(await get("/api/auth/me", { anonymous: true }));
  } catch (err) {
    if (err.status === 401) set(null);
    else throw err;
  }
  return user;
}

// login signs in with the browser-mode session cookie; the answer holds
// the user, never a token.
export async function login(username, password) {
  await post("/api/auth/login", { username, password, mode: "cookie" }, { anonymous: true });
  return refresh();
}

// verified records the login a cookie-mode email verification made.
export async function verified() {
  return refresh();
}

// logout ends this login (the server clears the cookie). The user is
// signed out here whatever the server answered: a dead session is as good
// as ended.
export async function logout() {
  try {
    await post("/api/auth/logout", undefined, { anonymous: true });
  } finally {
    set(null);
  }
}

// lost forgets the user after the server refused the cookie.
export function lost() {
  set(null);
}

// can reports whether the user holds permission (admins hold them all).
export function can(permission) {
  return !!user && (user.is_admin || (Array.isArray(user.permissions) && user.permissions.includes(permission)));
}
