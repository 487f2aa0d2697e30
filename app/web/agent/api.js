// The staff API over fetch: bearer token from sessionStorage, JSON in and out, and errors
// ({"error": {"code", "message"}}) turned into ApiError with the server's message.

const TOKEN_KEY = "switchboard:agent:token";

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

export const session = {
  get token() {
    return sessionStorage.getItem(TOKEN_KEY);
  },
  set token(value) {
    if (value) sessionStorage.setItem(TOKEN_KEY, value);
    else sessionStorage.removeItem(TOKEN_KEY);
  },
};

let onUnauthorized = () => {};

/** Called when a signed-in request gets 401 (token expired or revoked). */
export function setUnauthorizedHandler(handler) {
  onUnauthorized = handler;
}

function describe(status, data) {
  const err = data && data.error;
  if (err && typeof err.message === "string" && err.message) return err.message;
  if (data && typeof data.detail === "string") return data.detail;
  return `The server answered ${status}.`;
}

/** One API call; resolves with the parsed JSON body (null for 204). */
export async function api(method, path, body) {
  const headers = { Accept: "application/json" };
  const token = session.token;
  if (token) headers.Authorization = `Bearer ${token}`;
  const init = { method, headers };
  if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch {
    throw new ApiError(0, "network", "Could not reach the server. Check the connection and try again.");
  }
  if (response.status === 204) return null;
  let data = null;
  try {
    data = await response.json();
  } catch {
    data = null;
  }
  if (!response.ok) {
    const code = (data && data.error && data.error.code) || `http_${response.status}`;
    if (response.status === 401 && token) onUnauthorized();
    throw new ApiError(response.status, code, describe(response.status, data));
  }
  return data;
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
