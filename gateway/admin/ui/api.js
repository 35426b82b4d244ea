// The REST API client: bearer token from POST /api/v1/session, and every
// failure turned into an ApiError carrying the RFC 9457 problem.

const TOKEN_KEY = "gateway-admin.session";

export class ApiError extends Error {
  constructor(problem) {
    super(problem.detail || problem.title || "error");
    this.problem = problem;
    this.status = problem.status || 0;
  }
}

let session = null;
try {
  session = JSON.parse(sessionStorage.getItem(TOKEN_KEY) || "null");
} catch {
  session = null;
}
if (session && session.expires_at_unix && session.expires_at_unix * 1000 < Date.now()) {
  session = null;
}

let onUnauthorized = () => {};

export function getSession() {
  return session;
}

export function setSession(s) {
  session = s;
  if (s) sessionStorage.setItem(TOKEN_KEY, JSON.stringify(s));
  else sessionStorage.removeItem(TOKEN_KEY);
}

/** Called when the API answers 401 to an authenticated request (expired
 * or revoked token): the app goes back to the login screen. */
export function setUnauthorizedHandler(f) {
  onUnauthorized = f;
}

/** One request to /api/v1`path`; resolves to the parsed JSON (null for
 * 204), rejects with an ApiError. */
export async function api(method, path, body) {
  const headers = { Accept: "application/json, application/problem+json" };
  if (session) headers.Authorization = `Bearer ${session.token}`;
  const init = { method, headers, cache: "no-store" };
  if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let resp;
  try {
    resp = await fetch(`/api/v1${path}`, init);
  } catch (e) {
    // No HTTP answer at all: the listener is down or unreachable.
    throw new ApiError({ status: 0, title: "network", detail: String(e && e.message || e), network: true });
  }
  if (resp.status === 204) return null;
  const text = await resp.text();
  let data = null;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = null;
    }
  }
  if (!resp.ok) {
    const problem = data && typeof data === "object"
      ? { ...data, status: data.status || resp.status }
      : { status: resp.status, title: resp.statusText, detail: text.slice(0, 2000) };
    if (resp.status === 401 && session) onUnauthorized(problem);
    throw new ApiError(problem);
  }
  return data;
}

export async function login(user, password) {
  const s = await api("POST", "/session", { user, password });
  setSession(s);
  return s;
}

export async function logout() {
  try {
    if (session) await api("DELETE", "/session");
  } finally {
    setSession(null);
  }
}
