// The agent console's state, all of it in one object: who is signed in, the live stream, the
// queue and "my conversations" lists, the other agents, the canned responses, the open
// conversation and the reply in flight. The other modules read and change it; the page only
// shows it. (Timers private to a module, such as the toast's, are not state.)

export const state = {
  user: null,
  stream: null,
  queue: [], // queue items, highest priority first
  queueTotal: 0, // how many wait in all (the server's exact count; the list stops at 500)
  queueFetchedAt: 0,
  newIds: new Set(), // handoffs that arrived live and were not opened yet
  mine: [],
  unread: new Set(),
  agents: new Map(), // id -> {id, name, presence, online, open_conversations}
  canned: [],
  current: null, // {id, view, lastSeq, seqs:Set, noteIds:Set}
  pendingReply: null, // {text, clientId} kept until the server stored it (retry = same id)
  audio: null,
};

/** Whether the open conversation is assigned to the signed-in agent, who may then reply. */
export function isMine() {
  const view = state.current && state.current.view;
  return Boolean(view && view.status === "assigned" && view.agent && state.user && view.agent.id === state.user.id);
}
