// What an agent does to a conversation: claim it from the queue, and resolve, hand back to the
// bot or transfer to a colleague; each reloads the lists and the open conversation after.

import { $ } from "../shared/dom.js";
import { api } from "./api.js";
import { openConversation } from "./conversation.js";
import { loadMine, loadQueue } from "./queue.js";
import { state } from "./state.js";

export async function claim(id) {
  await api("POST", `/api/v1/agent/conversations/${encodeURIComponent(id)}/claim`);
  state.newIds.delete(id);
  await Promise.all([loadQueue(), loadMine()]);
  await openConversation(id);
  $("reply").focus();
}

export async function conversationAction(action, body) {
  const current = state.current;
  if (!current) return;
  await api("POST", `/api/v1/agent/conversations/${encodeURIComponent(current.id)}/${action}`, { body });
  await Promise.all([loadMine(), loadQueue()]);
  await openConversation(current.id);
}
