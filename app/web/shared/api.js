// The staff API client of both consoles. Each console makes its own with createClient(tokenKey):
// its bearer token lives in sessionStorage under that key (one per console, so signing in to
// one does not sign in to the other) and travels in the Authorization header. Every error the
// server sends is JSON {"error": {"code", "message", ...}}; it becomes an ApiError with the
// server's message.

const LOGIN_PATH = "/api/v1/auth/login";

export class ApiError extends Error {
  /** `body` is the parsed error response, if any; `details` holds its "error" object. */
  constructor(status, body) {
    const error = (body && body.error) || {};
    super(error.message || `the request failed (HTTP ${status})`);
    this.status = status;
    this.code = error.code || "http_error";
    this.details = error;
  }
}

/** The client of one console: {api, getToken, setToken, setUnauthorizedHandler}. */
export function createClient(tokenKey) {
  let onUnauthorized = () => {};

  function getToken() {
    return sessionStorage.getItem(tokenKey);
  }

  function setToken(token) {
    if (token) sessionStorage.setItem(tokenKey, token);
    else sessionStorage.removeItem(tokenKey);
  }

  /** Called with the error when a request that carried the token comes back 401 (expired or
   * revoked); a refused sign-in is only an error. */
  function setUnauthorizedHandler(handler) {
    onUnauthorized = handler;
  }

  /**
   * Call the API. `body` is sent as JSON unless `raw` is given ({data, type}); `query` adds
   * search parameters (empty ones left out). Resolves with the parsed JSON (text for other
   * content types, null for 204), or the Response itself when `asResponse` is set.
   */
  async function api(method, path, { body, raw, query, asResponse = false } = {}) {
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
      if (response.status === 401 && token && path !== LOGIN_PATH) onUnauthorized(error);
      throw error;
    }
    if (asResponse) return response;
    if (response.status === 204) return null;
    const type = response.headers.get("Content-Type") || "";
    return type.includes("json") ? response.json() : response.text();
  }

  return { api, getToken, setToken, setUnauthorizedHandler };
}

/** A client id for an idempotent post (crypto.randomUUID needs a secure context). */
export function clientId() {
  if (globalThis.crypto && typeof crypto.randomUUID === "function" && window.isSecureContext) {
    return crypto.randomUUID();
  }
  const bytes = new Uint8Array(16);
  crypto.getRandomValues(bytes);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}
