// The session (API key and agent id, kept in sessionStorage only) and the API calls.
// The key travels as the X-API-Key header: never in a URL, a cookie or a log line.

const KEY = 'openintent.console.session';

/** The signed-in person: {key, agent} or null. */
export function session() {
  try {
    const s = JSON.parse(sessionStorage.getItem(KEY) || 'null');
    return s && s.key && s.agent ? s : null;
  } catch {
    return null;
  }
}

export function signIn(key, agent) {
  sessionStorage.setItem(KEY, JSON.stringify({ key, agent }));
}

export function signOut() {
  sessionStorage.removeItem(KEY);
}

/** The headers of every API request. */
export function authHeaders() {
  const s = session();
  return s ? { 'X-API-Key': s.key, 'X-Agent-ID': s.agent } : {};
}

/** An error answer: its status and the server's `detail` as text. */
export class ApiError extends Error {
  constructor(status, detail) {
    super(status === 401 || status === 403 ? `${status}: ${detail}` : `${status} ${detail}`);
    this.status = status;
    this.detail = detail;
  }
}

function detailText(body, status) {
  const d = body && body.detail;
  if (typeof d === 'string') return d;
  if (Array.isArray(d)) return d.map((e) => `${(e.loc || []).join('.')}: ${e.msg}`).join('; ');
  if (d) return JSON.stringify(d);
  return `HTTP ${status}`;
}

let onAuthFailure = () => {};
/** Called with the error when the server refuses the key (401). */
export function whenRefused(fn) {
  onAuthFailure = fn;
}

/** Calls the API; resolves with the JSON answer (null for 204), rejects with an ApiError. */
export async function api(method, path, body, headers = {}) {
  const init = { method, headers: { ...authHeaders(), ...headers }, cache: 'no-store' };
  if (body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  let resp;
  try {
    resp = await fetch(path, init);
  } catch (e) {
    throw new ApiError(0, `network error: ${e.message}`);
  }
  const text = await resp.text();
  let json = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    json = null;
  }
  if (!resp.ok) {
    const err = new ApiError(resp.status, detailText(json, resp.status));
    if (resp.status === 401) onAuthFailure(err);
    throw err;
  }
  return json;
}

export const get = (path) => api('GET', path);
export const post = (path, body, headers) => api('POST', path, body ?? {}, headers);

/** Path segment escaping for ids. */
export const seg = (id) => encodeURIComponent(String(id));
