// The HTTP client of the UI: JSON in and out, the bearer token from sessionStorage, and
// errors as ApiError with the server's readable detail and its individual problems.

const TOKEN_KEY = "pystator.token";

export class ApiError extends Error {
  constructor(status, detail, errors = []) {
    super(detail);
    this.status = status;
    this.detail = detail;
    this.errors = errors;
  }
}

/**
 * The named guard a refused event needed but the request did not supply (the API's 422 with
 * an error at `body.guards.NAME`), or null. A transition taken after the event itself (an
 * internal event's, an eventless one) may need a guard the event's own transitions do not.
 */
export function missingGuard(err) {
  if (!(err instanceof ApiError) || err.status !== 422) return null;
  const item = err.errors.find((e) => e && typeof e.path === "string" && e.path.startsWith("body.guards."));
  return item && /needs the outcome/.test(item.message) ? item.path.slice("body.guards.".length) : null;
}

let onUnauthorized = () => {};

export function setUnauthorizedHandler(handler) {
  onUnauthorized = handler;
}

export function getToken() {
  return sessionStorage.getItem(TOKEN_KEY);
}

export function setToken(token) {
  if (token) sessionStorage.setItem(TOKEN_KEY, token);
  else sessionStorage.removeItem(TOKEN_KEY);
}

export async function request(method, path, body, { quiet401 = false } = {}) {
  const headers = { Accept: "application/json" };
  const token = getToken();
  if (token) headers.Authorization = `Bearer ${token}`;
  const init = { method, headers };
  if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch (err) {
    throw new ApiError(0, `the server did not answer (${err.message})`);
  }
  if (response.status === 204) return null;
  const text = await response.text();
  let data = null;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = { detail: text.slice(0, 300) };
    }
  }
  if (!response.ok) {
    const detail = (data && typeof data.detail === "string" && data.detail) || response.statusText;
    const error = new ApiError(response.status, detail, (data && data.errors) || []);
    if (response.status === 401 && !quiet401) onUnauthorized(error);
    throw error;
  }
  return data;
}

export const api = {
  health: () => request("GET", "/health"),
  me: () => request("GET", "/api/v1/auth/me", undefined, { quiet401: true }),
  login: (username, password) =>
    request("POST", "/api/v1/auth/token", { username, password }, { quiet401: true }),
  validate: (body) => request("POST", "/api/v1/validate", body),
  process: (body) => request("POST", "/api/v1/process", body),
  machines: (limit = 200, offset = 0) =>
    request("GET", `/api/v1/machines?limit=${limit}&offset=${offset}`),
  machine: (id) => request("GET", `/api/v1/machines/${encodeURIComponent(id)}`),
  createMachine: (body) => request("POST", "/api/v1/machines", body),
  updateMachine: (id, body) => request("PUT", `/api/v1/machines/${encodeURIComponent(id)}`, body),
  deleteMachine: (id) => request("DELETE", `/api/v1/machines/${encodeURIComponent(id)}`),
  entities: (id, { state, limit = 50, offset = 0 } = {}) => {
    const query = new URLSearchParams({ limit: String(limit), offset: String(offset) });
    if (state) query.set("state", state);
    return request("GET", `/api/v1/machines/${encodeURIComponent(id)}/entities?${query}`);
  },
  entity: (id, entityId) =>
    request("GET", `/api/v1/machines/${encodeURIComponent(id)}/entities/${encodeURIComponent(entityId)}`),
  createEntity: (id, body) =>
    request("POST", `/api/v1/machines/${encodeURIComponent(id)}/entities`, body),
  deleteEntity: (id, entityId) =>
    request("DELETE", `/api/v1/machines/${encodeURIComponent(id)}/entities/${encodeURIComponent(entityId)}`),
  sendEvent: (id, entityId, body) =>
    request(
      "POST",
      `/api/v1/machines/${encodeURIComponent(id)}/entities/${encodeURIComponent(entityId)}/events`,
      body,
    ),
  history: (id, entityId, limit = 200) =>
    request(
      "GET",
      `/api/v1/machines/${encodeURIComponent(id)}/entities/${encodeURIComponent(entityId)}/history?limit=${limit}`,
    ),
  // The UI's own helpers (pystator/ui/routes.py).
  parse: (text, format = "auto") => request("POST", "/ui/api/parse", { text, format }),
  dump: (config, format = "yaml") => request("POST", "/ui/api/dump", { config, format }),
  diagram: (config, format = "mermaid") => request("POST", "/ui/api/diagram", { config, format }),
  inspect: (config, state) => request("POST", "/ui/api/inspect", { config, state: state || null }),
};
