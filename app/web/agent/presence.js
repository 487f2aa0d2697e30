// Presence: the agent's own status (kept in sessionStorage across reloads), the other agents'
// (the transfer list shows who is online and how busy), and the stream's connection line.

import { $, clear, h } from "../shared/dom.js";
import { api } from "./api.js";
import { updateControls } from "./controls.js";
import { state } from "./state.js";

export const PRESENCE_KEY = "switchboard:agent:presence";

export async function setPresence(status) {
  const rows = await api("PUT", "/api/v1/agent/presence", { body: { status } });
  sessionStorage.setItem(PRESENCE_KEY, status);
  mergeAgents(rows);
}

export async function loadAgents() {
  mergeAgents(await api("GET", "/api/v1/agent/presence"));
}

export function mergeAgents(rows) {
  if (!Array.isArray(rows)) return;
  for (const row of rows) state.agents.set(row.id, { ...state.agents.get(row.id), ...row });
  renderTransferTargets();
}

function renderTransferTargets() {
  const select = $("transfer-to");
  const chosen = select.value;
  clear(select);
  select.append(h("option", { value: "" }, "Transfer to…"));
  const others = [...state.agents.values()]
    .filter((a) => !state.user || a.id !== state.user.id)
    .sort((a, b) => Number(b.online) - Number(a.online) || a.name.localeCompare(b.name));
  for (const agent of others) {
    const status = agent.online ? "online" : agent.presence === "away" ? "away" : "offline";
    const load = agent.open_conversations !== undefined ? `, ${agent.open_conversations} open` : "";
    select.append(h("option", { value: String(agent.id) }, `${agent.name} (${status}${load})`));
  }
  if ([...select.options].some((o) => o.value === chosen)) select.value = chosen;
  if (state.current) updateControls();
}

export function showConnection(status, delay) {
  const node = $("connection");
  node.dataset.state = status;
  node.textContent =
    status === "live"
      ? "Live"
      : status === "connecting"
        ? "Connecting…"
        : status === "reconnecting"
          ? `Connection lost; retrying in ${Math.ceil((delay || 0) / 1000)} s`
          : "Offline";
}
