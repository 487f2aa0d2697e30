// The agent console's entry: wires the page's controls to the modules and starts, in the
// console when the stored token still works, else at the sign-in form. Every server string is
// rendered as text. The modules, each headed by what it holds:
//   state.js (the one state object), session.js (sign in and out), events.js (the live
//   stream's events), queue.js (the queue and my conversations), conversation.js (the open
//   conversation), actions.js (claim, resolve, hand back, transfer), composer.js (replies and
//   canned responses), notes.js, packet.js (the handoff packet), assist.js (suggested
//   articles), presence.js (presence and the connection line), controls.js (what the agent
//   may do now), feedback.js (toast, guard, sound, debounced refresh), stream.js (the agent
//   WebSocket), format.js (times and labels as text), api.js (the API client).

import { $ } from "../shared/dom.js";
import { claim, conversationAction } from "./actions.js";
import { api, getToken, setUnauthorizedHandler } from "./api.js";
import { loadAssist } from "./assist.js";
import { expandShortcut, insertCanned, sendReply } from "./composer.js";
import { busy, updateControls } from "./controls.js";
import { guard } from "./feedback.js";
import { addNoteFromForm } from "./notes.js";
import { setPresence } from "./presence.js";
import { tickWaits } from "./queue.js";
import { enterConsole, login, logout, openSecondFactor, showLogin } from "./session.js";
import { state } from "./state.js";

function wire() {
  $("login-form").addEventListener("submit", login);
  $("second-factor-button").addEventListener("click", openSecondFactor);
  $("logout").addEventListener("click", logout);
  $("presence").addEventListener(
    "change",
    guard((e) => setPresence(e.target.value)),
  );
  $("reply-form").addEventListener("submit", guard(sendReply));
  $("reply").addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      $("reply-form").requestSubmit();
    }
  });
  $("reply").addEventListener("keydown", expandShortcut);
  $("note-form").addEventListener("submit", guard(addNoteFromForm));
  $("canned-insert").addEventListener("click", insertCanned);
  $("assist-refresh").addEventListener("click", (e) => busy(e.currentTarget, guard(loadAssist)));
  $("claim").addEventListener("click", (e) =>
    busy(
      e.currentTarget,
      guard(() => claim(state.current.id)),
    ),
  );
  $("resolve").addEventListener("click", (e) => busy(e.currentTarget, guard(() => conversationAction("resolve"))));
  $("handback").addEventListener("click", (e) => busy(e.currentTarget, guard(() => conversationAction("handback"))));
  $("transfer-to").addEventListener("change", () => updateControls());
  $("transfer").addEventListener("click", (e) => {
    const target = Number($("transfer-to").value);
    if (!target) return;
    busy(
      e.currentTarget,
      guard(() => conversationAction("transfer", { agent_id: target })),
    );
  });
  setInterval(tickWaits, 5000);
  setUnauthorizedHandler(() => showLogin("Your session ended. Sign in again."));
}

async function start() {
  wire();
  if (!getToken()) {
    $("login-view").hidden = false;
    $("login-email").focus();
    return;
  }
  try {
    const user = await api("GET", "/api/v1/auth/me");
    await enterConsole(user);
  } catch (error) {
    showLogin(error.status === 401 ? "Your session ended. Sign in again." : error.message);
  }
}

start();
