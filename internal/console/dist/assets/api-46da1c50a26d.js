// The API client. Browser mode only: the session is the HttpOnly cookie
// __Host-warden_session, which the browser sends with every same-origin
// request; this script never sees a token. fetch adds Origin and
// Sec-Fetch-Site to the state-changing requests, which is what the
// server's cross-origin request forgery check reads.

// ApiError is a failed request: status (0 when the server could not be
// reached), message (one sentence for people), fields (field name ->
// messages) and details (messages not tied to a field), from the problem
// document (RFC 9457) the server answers.
export class ApiError extends Error {
  constructor(status, body, retryAfter) {
    super(messageOf(status, body, retryAfter));
    this.status = status;
    this.fields = body && typeof body.fields === "object" && body.fields ? body.fields : {};
    this.details = body && Array.isArray(body.details) ? body.details.map(String) : [];
  }
}

function messageOf(status, body, retryAfter) {
  const said = body && (body.error || body.detail || body.title);
  if (status === 0) return "The server could not be reached. Check your connection and try again.";
  if (status === 429 || status === 503) {
    const secs = Number.parseInt(retryAfter || "", 10);
    const wait = Number.isFinite(secs) && secs > 0 ? ` Try again in ${secs} second${secs === 1 ? "" : "s"}.` : " Try again shortly.";
    return (typeof said === "string" && said ? said : status === 429 ? "Too many requests." : "The server is busy.") + wait;
  }
  if (typeof said === "string" && said) return said;
  return `The request failed (HTTP ${status}).`;
}

let onSessionLost = null;

// whenSessionLost sets the function called when a request that needed
// the session answers 401: the cookie expired or the login was ended
// elsewhere (logout-all, a password change or reset).
export function whenSessionLost(fn) {
  onSessionLost = fn;
}

// request sends one API request. body: a value sent as JSON, or a
// FormData sent as multipart. It resolves to the decoded JSON answer (null
// for 204), or with opts.withStatus to {status, data}, and rejects with an
// ApiError.
export async function request(method, path, body, opts) {
  const init = {
    method,
    credentials: "same-origin",
    headers: { Accept: "application/json" },
    cache: "no-store",
    redirect: "error",
    // The API's URLs carry ids and names: nobody else's business.
    referrerPolicy: "no-referrer",
  };
  if (body instanceof FormData) {
    init.body = body; // the browser writes the multipart boundary
  } else if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch(path, init);
  } catch {
    throw new ApiError(0, null, null);
  }
  let data = null;
  if (res.status !== 204 && /json/.test(res.headers.get("Content-Type") || "")) {
    try {
      data = await res.json();
    } catch {
      data = null;
    }
  }
  if (!res.ok) {
    const err = new ApiError(res.status, data, res.headers.get("Retry-After"));
    if (res.status === 401 && !(opts && opts.anonymous) && onSessionLost) onSessionLost(err);
    throw err;
  }
  return opts && opts.withStatus ? { status: res.status, data } : data;
}

export const get = (path, opts) => request("GET", path, undefined, opts);
export const post = (path, body, opts) => request("POST", path, body, opts);
export const patch = (path, body, opts) => request("PATCH", path, body, opts);
export const del = (path, opts) => request("DELETE", path, undefined, opts);

// q builds a query string from the defined members of params.
export function q(params) {
  const s = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== "") s.set(k, String(v));
  const out = s.toString();
  return out ? "?" + out : "";
}

// seg encodes one path segment (a username, an id).
export const seg = (v) => encodeURIComponent(String(v));
