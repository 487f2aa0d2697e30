// What the agent may do with the open conversation: the action buttons shown, the composer
// enabled or not and its hint; busy() runs an action with its button disabled, then sets the
// controls again from the state.

import { $ } from "../shared/dom.js";
import { isMine, state } from "./state.js";

export function updateControls() {
  const view = state.current && state.current.view;
  if (!view) return;
  const mine = isMine();
  const admin = state.user && state.user.role === "admin";
  $("claim").hidden = view.status !== "queued";
  $("resolve").hidden = !(mine || (admin && (view.status === "queued" || view.status === "assigned")));
  $("handback").hidden = !mine;
  $("transfer-to").parentElement.hidden = !mine;
  $("transfer").disabled = !$("transfer-to").value;
  for (const id of ["reply", "send", "canned", "canned-insert"]) $(id).disabled = !mine;
  $("reply-hint").textContent = mine
    ? ""
    : view.status === "queued"
      ? "Claim the conversation to reply."
      : view.status === "assigned"
        ? `Assigned to ${view.agent ? view.agent.name : "another agent"}; you can add internal notes.`
        : view.status === "resolved"
          ? "Resolved."
          : "The bot is handling this conversation.";
}

export async function busy(button, fn) {
  if (button) button.disabled = true;
  try {
    return await fn();
  } finally {
    if (button) button.disabled = false;
    if (state.current) updateControls();
  }
}
