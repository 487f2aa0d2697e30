// The live events of the agent stream, each routed to the refresh it calls for. The stream has
// no replay, so a (re)connection ("hello") re-reads whatever may have been missed.

import { $ } from "../shared/dom.js";
import { loadMessagesAfter, onLiveMessage, reloadView } from "./conversation.js";
import { beep, soon } from "./feedback.js";
import { addNote } from "./notes.js";
import { mergeAgents } from "./presence.js";
import { loadMine, loadQueue, renderMine } from "./queue.js";
import { state } from "./state.js";

export function onStreamEvent(event) {
  const current = state.current;
  switch (event.type) {
    case "hello":
      // (Re)connected: the stream has no replay, so re-read what may have been missed.
      mergeAgents(event.agents);
      soon("queue", loadQueue);
      soon("mine", loadMine);
      if (current) soon("messages", () => loadMessagesAfter(current.id));
      break;
    case "queue":
      if (event.action === "added") {
        state.newIds.add(event.conversation_id);
        beep();
      }
      if (event.action === "removed") state.newIds.delete(event.conversation_id);
      soon("queue", loadQueue);
      if (current && current.id === event.conversation_id) {
        soon("messages", () => loadMessagesAfter(current.id));
        if (event.action !== "updated") soon("view", () => reloadView(current.id));
      }
      break;
    case "message":
      if (current && current.id === event.conversation_id) {
        onLiveMessage(event);
      } else {
        state.unread.add(event.conversation_id);
        renderMine();
      }
      break;
    case "assigned":
    case "unassigned":
      soon("mine", loadMine);
      soon("queue", loadQueue);
      if (current && current.id === event.conversation_id) {
        soon("view", () => reloadView(current.id));
      }
      break;
    case "note":
      if (current && current.id === event.conversation_id && event.note) addNote(event.note);
      break;
    case "presence":
      if (event.agent) {
        mergeAgents([event.agent]);
        if (state.user && event.agent.id === state.user.id && event.agent.presence !== "offline") {
          $("presence").value = event.agent.presence;
        }
      }
      break;
    default:
      break;
  }
}
