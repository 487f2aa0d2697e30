// The admin console's API client: the staff token lives in sessionStorage and travels in the
// Authorization header; every error is the server's JSON {"error": {"code", "message", ...}}.

const TOKEN_KEY = "switchboard.admin.token";

export class ApiError extends Error {
  constructor(status, body) {
    const error = (body && body.error) || {};
    super(error.message || `the request failed (HTTP ${status})`);
    this.status = status;
    this.code = error.code || "http_error";
    this.details = error;
  }
}

export function getToken() {
  return sessionStorage.getItem(TOKEN_KEY);
}

export function setToken(token) {
  if (token) sessionStorage.setItem(TOKEN_KEY, token);
  else sessionStorage.removeItem(TOKEN_KEY);
}

let onUnauthorized = () => {};

/** Called with the error when a request comes back 401 (expired or revoked token). */
export function setUnauthorizedHandler(handler) {
  onUnauthorized = handler;
}

/**
 * Call the API. `body` is sent as JSON unless `raw` is given ({data, type}); returns the parsed
 * JSON (or null for 204), or the Response itself when `asResponse` is set.
 */
export async function api(method, path, { body, raw, query, asResponse = false } = {}) {
  const url = new URL(path, window.location.origin);
  for (const [key, value] of Object.entries(query || {})) {
    if (value !== undefined && value !== null && value !== "") url.searchParams.set(key, value);
  }
  const headers = {};
  const token = getToken();
  if (token) headers.Authorization = `Bearer ${token}`;
  let payload;
  if (raw) {
    headers["Content-Type"] = raw.type;
    payload = raw.data;
  } else if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    payload = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(url, { method, headers, body: payload });
  } catch {
    throw new ApiError(0, { error: { message: "the server cannot be reached; check your connection and try again" } });
  }
  if (!response.ok) {
    let parsed = null;
    try {
      parsed = await response.json();
    } catch {
      parsed = null;
    }
    const error = new ApiError(response.status, parsed);
    if (response.status === 401 && path !== "/api/v1/auth/login") onUnauthorized(error);
    throw error;
  }
  if (asResponse) return response;
  if (response.status === 204) return null;
  const type = response.headers.get("Content-Type") || "";
  return type.includes("json") ? response.json() : response.text();
}
