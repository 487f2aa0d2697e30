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
import { askForCode, CODE_PROMPT, codeOf, showEnrolment } from "../shared/second_factor.js";

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
    const totp = codeOf($("login-totp"));
    const result = await api("POST", "/api/v1/auth/login", { body: { email, password, totp } });
    setToken(result.token);
    $("login-password").value = "";
    $("login-totp").value = "";
    sessionStorage.setItem(PRESENCE_KEY, "online");
    if (result.enrol_second_factor) {
      // An admin who must use a second factor sets it up before the console opens.
      $("login-form").hidden = true;
      await showEnrolment(api, $("enrol-first"), {
        required: true,
        onDone: (user) => {
          $("enrol-first").hidden = true;
          $("login-form").hidden = false;
          enterConsole(user);
        },
      });
      return;
    }
    await enterConsole(result.user);
  } catch (err) {
    error.textContent = err.message;
    if (!askForCode(err, $("login-totp"))) $("login-password").focus();
    else if (err.details.second_factor === "required") error.textContent = CODE_PROMPT;
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
  $("second-factor").hidden = true;
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

/** The header's "Two-step sign-in" button: enrol, unless it is already on. */
export function openSecondFactor() {
  if (state.user && state.user.totp_enabled) {
    const panel = $("second-factor");
    panel.replaceChildren("Two-step sign-in is already on; an admin can reset it.");
    panel.hidden = false;
    return;
  }
  showEnrolment(api, $("second-factor"), {
    onDone: (user) => {
      state.user = { ...state.user, ...user };
    },
  });
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
