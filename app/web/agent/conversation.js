// The open conversation: opening and reloading it, its message log (in seq order, each
// message once, whether it came from a page read or the live stream) and its heading.

import { $, clear, h } from "../shared/dom.js";
import { renderMarkdown } from "../shared/markdown.js";
import { api } from "./api.js";
import { loadAssist } from "./assist.js";
import { updateControls } from "./controls.js";
import { guard, soon } from "./feedback.js";
import { clockTime, reasonLabel } from "./format.js";
import { addNote } from "./notes.js";
import { renderPacket } from "./packet.js";
import { renderMine, renderQueue } from "./queue.js";
import { isMine, state } from "./state.js";

export async function openConversation(id) {
  const view = await api("GET", `/api/v1/agent/conversations/${encodeURIComponent(id)}`);
  const changed = !state.current || state.current.id !== id;
  if (changed) {
    state.pendingReply = null;
    $("reply").value = "";
    $("note").value = "";
  }
  state.current = { id, view, lastSeq: 0, seqs: new Set(), noteIds: new Set() };
  state.newIds.delete(id);
  state.unread.delete(id);
  clear($("messages"));
  clear($("notes"));
  for (const message of view.messages || []) appendMessage(message);
  for (const note of view.notes || []) addNote(note);
  $("conv-placeholder").hidden = true;
  $("conv-body").hidden = false;
  $("side").hidden = false;
  renderHeader();
  renderPacket();
  updateControls();
  renderQueue();
  renderMine();
  if (view.last_seq > state.current.lastSeq) await loadMessagesAfter(id);
  if (changed) {
    clear($("assist"));
    $("assist-intent").textContent = "";
    guard(loadAssist)();
  }
}

export async function reloadView(id) {
  if (!state.current || state.current.id !== id) return;
  const view = await api("GET", `/api/v1/agent/conversations/${encodeURIComponent(id)}`);
  if (!state.current || state.current.id !== id) return;
  state.current.view = view;
  for (const message of view.messages || []) appendMessage(message);
  for (const note of view.notes || []) addNote(note);
  renderHeader();
  renderPacket();
  updateControls();
}

export async function loadMessagesAfter(id) {
  for (let round = 0; round < 20; round += 1) {
    const current = state.current;
    if (!current || current.id !== id) return;
    const page = await api(
      "GET",
      `/api/v1/agent/conversations/${encodeURIComponent(id)}/messages?after=${current.lastSeq}`,
    );
    if (!state.current || state.current.id !== id) return;
    let customerWrote = false;
    for (const message of page.messages || []) {
      if (appendMessage(message) && message.author === "customer") customerWrote = true;
    }
    if (customerWrote) soon("assist", loadAssist, 400);
    if (!page.has_more) return;
  }
}

export function onLiveMessage(event) {
  const current = state.current;
  if (!event.message || event.seq <= current.lastSeq) return;
  if (event.seq === current.lastSeq + 1) {
    appendMessage(event.message);
    if (event.message.author === "customer") soon("assist", loadAssist, 400);
  } else {
    soon("messages", () => loadMessagesAfter(current.id)); // a gap: read it from storage
  }
  if (event.message.author === "system") soon("view", () => reloadView(current.id));
}

function authorLabel(message) {
  const meta = message.meta || {};
  if (message.author === "customer") return "Customer";
  if (message.author === "bot") return "Bot";
  if (message.author === "agent") {
    if (state.user && meta.agent_id === state.user.id) return "You";
    return meta.agent_name || "Agent";
  }
  return "System";
}

/** Append a message unless its seq is already shown; true when it was new. */
export function appendMessage(message) {
  const current = state.current;
  if (!current || current.seqs.has(message.seq)) return false;
  current.seqs.add(message.seq);
  current.lastSeq = Math.max(current.lastSeq, message.seq);
  const list = $("messages");
  const meta = message.meta || {};
  const details = [];
  if (message.author === "bot" && meta.kind) details.push(meta.kind);
  if (message.author === "bot" && Array.isArray(meta.sources) && meta.sources.length) {
    details.push(`source: ${meta.sources.map((s) => s.title).join(", ")}`);
  }
  const item = h(
    "li",
    { class: `msg ${message.author}`, dataset: { seq: message.seq } },
    h(
      "div",
      { class: "msg-meta" },
      h("span", { class: "author" }, authorLabel(message)),
      h("time", { datetime: message.created_at }, clockTime(message.created_at)),
    ),
    // Bot answers and agents' replies are Markdown, shown as the customer sees them (built as
    // DOM, never parsed as HTML); customers' words stay plain text.
    message.author === "bot" || message.author === "agent"
      ? h("div", { class: "msg-text md" }, renderMarkdown(message.text, { breaks: true }))
      : h("p", { class: "msg-text" }, message.text),
    details.length ? h("p", { class: "msg-details" }, details.join(" · ")) : null,
  );
  // keep seq order even if an older message arrives late
  const later = [...list.children].find((li) => Number(li.dataset.seq) > message.seq);
  list.insertBefore(item, later || null);
  const scroller = $("messages-log");
  scroller.scrollTop = scroller.scrollHeight;
  return true;
}

function renderHeader() {
  const view = state.current.view;
  const packet = view.handoff || {};
  $("conv-heading").textContent = `${reasonLabel(view.handoff_reason || packet.reason)} · ${view.id.slice(0, 8)}`;
  let status = `Status: ${view.status}`;
  if (view.status === "assigned" && view.agent) {
    status += isMine() ? " to you" : ` to ${view.agent.name}`;
  }
  if (view.status === "resolved") status += " — the customer was asked for a rating";
  if (view.status === "queued" && view.queued_at) status += ` since ${clockTime(view.queued_at)}`;
  $("conv-status").textContent = status;
  renderCustomer(view.customer);
}

// Who the customer is: a verified identity (signed by the host site) gets a "verified" mark
// with its id, email and name; an anonymous visitor's claims are never shown as verified.
function renderCustomer(customer) {
  const line = $("conv-customer");
  clear(line);
  if (!customer) {
    line.dataset.verified = "false";
    line.append(h("span", { class: "muted" }, "Anonymous visitor (not signed in)"));
    return;
  }
  line.dataset.verified = "true";
  const who = [customer.name, customer.email, `id ${customer.id}`].filter(Boolean).join(" · ");
  line.append(
    h("span", { class: "badge verified", title: "Identity signed by the website" }, "✓ verified"),
    " ",
    h("span", { class: "customer-who" }, who),
  );
}
