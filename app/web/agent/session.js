// Signing in and out: the sign-in form, entering the console (the live stream, presence and
// the first loads), and back to the sign-in view when the agent leaves or the session ends.

import { $ } from "../shared/dom.js";
import { api, getToken, setToken } from "./api.js";
import { loadCanned } from "./composer.js";
import { onStreamEvent } from "./events.js";
import { cancelRefreshes, guard } from "./feedback.js";
import { loadAgents, PRESENCE_KEY, setPresence, showConnection } from "./presence.js";
import { BASE_TITLE, loadMine, loadQueue } from "./queue.js";
import { state } from "./state.js";
import { AgentStream } from "./stream.js";

export async function login(event) {
  event.preventDefault();
  const email = $("login-email").value.trim();
  const password = $("login-password").value;
  const error = $("login-error");
  error.textContent = "";
  if (!email || !password) {
    error.textContent = "Enter your email and password.";
    (email ? $("login-password") : $("login-email")).focus();
    return;
  }
  const button = event.submitter || $("login-form").querySelector("button");
  button.disabled = true;
  try {
    const result = await api("POST", "/api/v1/auth/login", { body: { email, password } });
    setToken(result.token);
    $("login-password").value = "";
    sessionStorage.setItem(PRESENCE_KEY, "online");
    await enterConsole(result.user);
  } catch (err) {
    error.textContent = err.message;
    $("login-password").focus();
  } finally {
    button.disabled = false;
  }
}

/** Stop the live stream and the refreshes it scheduled: nothing more is asked with the token. */
function stopLive() {
  state.stream?.stop();
  state.stream = null;
  cancelRefreshes();
}

export function showLogin(message) {
  stopLive();
  state.user = null;
  state.current = null;
  setToken(null);
  $("console-view").hidden = true;
  $("login-view").hidden = false;
  $("login-error").textContent = message || "";
  document.title = BASE_TITLE;
  $("login-email").focus();
}

export async function logout() {
  // Signing out means leaving: go offline first, so the queue stops counting on this agent
  // and their open conversations go back to it for a colleague. The live stream stops before,
  // so the events of going offline schedule no refresh that would outlive the token.
  stopLive();
  try {
    await api("PUT", "/api/v1/agent/presence", { body: { status: "offline" } });
  } catch {
    // the token may already be gone; signing out locally is what matters
  }
  try {
    await api("POST", "/api/v1/auth/logout");
  } catch {
    // signing out locally is what matters
  }
  sessionStorage.removeItem(PRESENCE_KEY);
  showLogin("You signed out.");
}

export async function enterConsole(user) {
  state.user = user;
  $("login-view").hidden = true;
  $("console-view").hidden = false;
  $("who").textContent = `${user.name} (${user.role})`;
  const presence = sessionStorage.getItem(PRESENCE_KEY) || "online";
  $("presence").value = presence;
  state.stream = new AgentStream({
    token: getToken(),
    onEvent: onStreamEvent,
    onStatus: showConnection,
    onAuthFailed: () => showLogin("Your session ended. Sign in again."),
  });
  state.stream.start();
  await Promise.all([
    guard(setPresence)(presence),
    guard(loadQueue)(),
    guard(loadMine)(),
    guard(loadCanned)(),
    guard(loadAgents)(),
  ]);
  const first = $("queue").querySelector("button");
  (first || $("presence")).focus();
}
