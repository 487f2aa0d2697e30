// The reply composer: sending (a retry of the same text reuses its client id, so it is stored
// once), canned responses from the list or by "/shortcut" + Tab.

import { $, clear, h, insertAtCaret } from "../shared/dom.js";
import { api, clientId } from "./api.js";
import { busy } from "./controls.js";
import { appendMessage } from "./conversation.js";
import { isMine, state } from "./state.js";

export async function sendReply(event) {
  event.preventDefault();
  const current = state.current;
  const box = $("reply");
  const text = box.value;
  if (!current || !isMine()) return;
  if (!text.trim()) {
    box.focus();
    return;
  }
  // A retry of the same text after a failure reuses its client id, so it is stored once.
  if (!state.pendingReply || state.pendingReply.text !== text || state.pendingReply.conversation !== current.id) {
    state.pendingReply = { text, clientId: clientId(), conversation: current.id };
  }
  const pending = state.pendingReply;
  await busy($("send"), async () => {
    const result = await api(
      "POST",
      `/api/v1/agent/conversations/${encodeURIComponent(current.id)}/messages`,
      { body: { text: pending.text, client_id: pending.clientId } },
    );
    if (state.pendingReply === pending) state.pendingReply = null;
    if (box.value === pending.text) box.value = "";
    if (state.current && state.current.id === current.id && result && result.message) {
      if (!appendMessage(result.message)) return;
    }
  });
  box.focus();
}

export async function loadCanned() {
  state.canned = await api("GET", "/api/v1/agent/canned");
  const select = $("canned");
  clear(select);
  select.append(h("option", { value: "" }, state.canned.length ? "Canned responses…" : "No canned responses"));
  for (const item of state.canned) {
    select.append(h("option", { value: String(item.id) }, `/${item.shortcut} — ${item.title}`));
  }
}

export function insertCanned() {
  const chosen = state.canned.find((c) => String(c.id) === $("canned").value);
  if (!chosen) {
    $("canned").focus();
    return;
  }
  insertAtCaret($("reply"), chosen.text);
  $("canned").value = "";
}

/** "/shortcut" + Tab in the reply box expands a canned response. */
export function expandShortcut(event) {
  if (event.key !== "Tab" || event.shiftKey) return;
  const box = event.currentTarget;
  const before = box.value.slice(0, box.selectionStart);
  const match = before.match(/(?:^|\s)\/([a-z0-9][a-z0-9_-]*)$/);
  if (!match) return;
  const chosen = state.canned.find((c) => c.shortcut === match[1]);
  if (!chosen) return;
  event.preventDefault();
  const start = before.length - match[1].length - 1;
  box.value = box.value.slice(0, start) + chosen.text + box.value.slice(box.selectionStart);
  const caret = start + chosen.text.length;
  box.setSelectionRange(caret, caret);
}
