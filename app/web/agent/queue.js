// The two lists in the left column: the queue (waiting handoffs, highest priority first, with
// the "new" badge and the page title counting the ones not opened yet) and the agent's own
// assigned conversations (marked when a message arrives while another one is open).

import { $, clear, h, rememberFocus, restoreFocus } from "../shared/dom.js";
import { claim } from "./actions.js";
import { api } from "./api.js";
import { busy } from "./controls.js";
import { openConversation } from "./conversation.js";
import { guard } from "./feedback.js";
import { clockTime, duration, reasonLabel, sentimentClass, sentimentLabel } from "./format.js";
import { state } from "./state.js";

export const BASE_TITLE = "Agent console — Switchboard";

export async function loadQueue() {
  const page = await api("GET", "/api/v1/agent/queue");
  state.queue = page.items || [];
  state.queueTotal = page.total ?? state.queue.length; // exact; the list is the first page
  state.queueFetchedAt = Date.now();
  const ids = new Set(state.queue.map((item) => item.conversation_id));
  for (const id of [...state.newIds]) if (!ids.has(id)) state.newIds.delete(id);
  renderQueue();
}

function waitingText(item) {
  return duration(item.waiting_seconds + (Date.now() - state.queueFetchedAt) / 1000);
}

export function renderQueue() {
  const list = $("queue");
  const focusKey = rememberFocus(list);
  clear(list);
  for (const item of state.queue) {
    const id = item.conversation_id;
    const packet = item.handoff || {};
    const isNew = state.newIds.has(id);
    const lastCustomer = [...(item.last_messages || [])].reverse().find((m) => m.author === "customer");
    const summary = packet.summary || packet.question || (lastCustomer && lastCustomer.text) || "";
    const selected = state.current && state.current.id === id;
    list.append(
      h(
        "li",
        { class: `queue-item${isNew ? " is-new" : ""}${selected ? " selected" : ""}`, dataset: { id } },
        h(
          "div",
          { class: "qi-top" },
          h("span", { class: "reason" }, reasonLabel(packet.reason || item.reason)),
          isNew ? h("span", { class: "tag-new" }, "New") : null,
          h("span", { class: "wait", dataset: { wait: id } }, `waiting ${waitingText(item)}`),
        ),
        h(
          "p",
          { class: `sentiment ${sentimentClass(item.sentiment)}` },
          `Sentiment: ${sentimentLabel(item.sentiment)}`,
        ),
        h("p", { class: "summary" }, summary),
        lastCustomer && lastCustomer.text !== (packet.question || summary)
          ? h("p", { class: "last muted" }, `Last: “${lastCustomer.text}”`)
          : null,
        item.contact_email ? h("p", { class: "muted small" }, `Email: ${item.contact_email}`) : null,
        h(
          "div",
          { class: "qi-actions" },
          h(
            "button",
            {
              type: "button",
              class: "primary",
              dataset: { focusKey: `claim:${id}` },
              "aria-label": `Claim: ${reasonLabel(packet.reason)}, waiting ${waitingText(item)}`,
              onclick: (e) => busy(e.currentTarget, guard(() => claim(id))),
            },
            "Claim",
          ),
          h(
            "button",
            {
              type: "button",
              dataset: { focusKey: `open:${id}` },
              "aria-label": `Preview conversation: ${reasonLabel(packet.reason)}`,
              onclick: guard(() => openConversation(id)),
            },
            "Preview",
          ),
        ),
      ),
    );
  }
  restoreFocus(list, focusKey);
  const count = Math.max(state.queueTotal, state.queue.length);
  $("queue-count").textContent = String(count);
  $("queue-count").setAttribute("aria-label", `${count} waiting`);
  $("queue-empty").hidden = count > 0;
  const fresh = state.newIds.size;
  const badge = $("new-badge");
  badge.hidden = fresh === 0;
  badge.textContent = `${fresh} new`;
  document.title = fresh ? `(${fresh}) ${BASE_TITLE}` : BASE_TITLE;
}

export function tickWaits() {
  for (const item of state.queue) {
    const node = document.querySelector(`[data-wait="${CSS.escape(item.conversation_id)}"]`);
    if (node) node.textContent = `waiting ${waitingText(item)}`;
  }
}

export async function loadMine() {
  state.mine = await api("GET", "/api/v1/agent/conversations?status=assigned");
  renderMine();
}

export function renderMine() {
  const list = $("mine");
  const focusKey = rememberFocus(list);
  clear(list);
  for (const conv of state.mine) {
    const unread = state.unread.has(conv.id);
    const selected = state.current && state.current.id === conv.id;
    list.append(
      h(
        "li",
        { class: selected ? "selected" : "" },
        h(
          "button",
          {
            type: "button",
            class: "mine-item",
            dataset: { focusKey: `mine:${conv.id}` },
            "aria-current": selected ? "true" : null,
            onclick: guard(() => openConversation(conv.id)),
          },
          h("span", {}, reasonLabel(conv.handoff_reason)),
          h("span", { class: "muted small" }, ` · since ${clockTime(conv.assigned_at)}`),
          unread ? h("span", { class: "tag-new" }, "New message") : null,
        ),
      ),
    );
  }
  restoreFocus(list, focusKey);
  $("mine-count").textContent = String(state.mine.length);
  $("mine-empty").hidden = state.mine.length > 0;
}
