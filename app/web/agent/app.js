// Switchboard agent console: sign in, the live queue, claiming and working a conversation
// (replies, notes, canned responses, agent assist), resolve / hand back / transfer, presence.
// Every server string is rendered as text.

import { api, ApiError, clientId, getToken, setToken, setUnauthorizedHandler } from "./api.js";
import { AgentStream } from "./stream.js";
import { renderMarkdown } from "../shared/markdown.js";
import { $, clear, h, insertAtCaret, rememberFocus, restoreFocus } from "../shared/dom.js";
import { clockTime, duration, reasonLabel, sentimentClass, sentimentLabel } from "./format.js";

const PRESENCE_KEY = "switchboard:agent:presence";
const BASE_TITLE = "Agent console — Switchboard";

const state = {
  user: null,
  stream: null,
  queue: [], // queue items, highest priority first
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

// ---------------------------------------------------------------- feedback

let toastTimer = null;
function showError(error) {
  const message = error instanceof ApiError || error instanceof Error ? error.message : String(error);
  const toast = $("toast");
  toast.textContent = message;
  toast.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => {
    toast.hidden = true;
  }, 8000);
}

function guard(fn) {
  return async (...args) => {
    try {
      return await fn(...args);
    } catch (error) {
      showError(error);
      return undefined;
    }
  };
}

async function busy(button, fn) {
  if (button) button.disabled = true;
  try {
    return await fn();
  } finally {
    if (button) button.disabled = false;
    if (state.current) updateControls();
  }
}

function beep() {
  if (!$("sound").checked) return;
  try {
    state.audio = state.audio || new AudioContext();
    const ctx = state.audio;
    const osc = ctx.createOscillator();
    const gain = ctx.createGain();
    osc.frequency.value = 880;
    gain.gain.setValueAtTime(0.08, ctx.currentTime);
    gain.gain.exponentialRampToValueAtTime(0.0001, ctx.currentTime + 0.25);
    osc.connect(gain).connect(ctx.destination);
    osc.start();
    osc.stop(ctx.currentTime + 0.25);
  } catch {
    // sound is a nicety; the badge says the same
  }
}

// ---------------------------------------------------------------- sign in / out

async function login(event) {
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
    const result = await api("POST", "/api/v1/auth/login", { body: { email, password } });
    setToken(result.token);
    $("login-password").value = "";
    sessionStorage.setItem(PRESENCE_KEY, "online");
    await enterConsole(result.user);
  } catch (err) {
    error.textContent = err.message;
    $("login-password").focus();
  } finally {
    button.disabled = false;
  }
}

function showLogin(message) {
  state.stream?.stop();
  state.stream = null;
  state.user = null;
  state.current = null;
  setToken(null);
  $("console-view").hidden = true;
  $("login-view").hidden = false;
  $("login-error").textContent = message || "";
  document.title = BASE_TITLE;
  $("login-email").focus();
}

async function logout() {
  // Signing out means leaving: go offline first, so the queue stops counting on this agent
  // and their open conversations go back to it for a colleague.
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

async function enterConsole(user) {
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

// ---------------------------------------------------------------- presence

async function setPresence(status) {
  const rows = await api("PUT", "/api/v1/agent/presence", { body: { status } });
  sessionStorage.setItem(PRESENCE_KEY, status);
  mergeAgents(rows);
}

async function loadAgents() {
  mergeAgents(await api("GET", "/api/v1/agent/presence"));
}

function mergeAgents(rows) {
  if (!Array.isArray(rows)) return;
  for (const row of rows) state.agents.set(row.id, { ...state.agents.get(row.id), ...row });
  renderTransferTargets();
}

function showConnection(status, delay) {
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

// ---------------------------------------------------------------- live events

const debounced = new Map();
function soon(key, fn, ms = 120) {
  clearTimeout(debounced.get(key));
  debounced.set(key, setTimeout(guard(fn), ms));
}

function onStreamEvent(event) {
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

// ---------------------------------------------------------------- the queue

async function loadQueue() {
  const page = await api("GET", "/api/v1/agent/queue");
  state.queue = page.items || [];
  state.queueFetchedAt = Date.now();
  const ids = new Set(state.queue.map((item) => item.conversation_id));
  for (const id of [...state.newIds]) if (!ids.has(id)) state.newIds.delete(id);
  renderQueue();
}

function waitingText(item) {
  return duration(item.waiting_seconds + (Date.now() - state.queueFetchedAt) / 1000);
}

function renderQueue() {
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
  const count = state.queue.length;
  $("queue-count").textContent = String(count);
  $("queue-count").setAttribute("aria-label", `${count} waiting`);
  $("queue-empty").hidden = count > 0;
  const fresh = state.newIds.size;
  const badge = $("new-badge");
  badge.hidden = fresh === 0;
  badge.textContent = `${fresh} new`;
  document.title = fresh ? `(${fresh}) ${BASE_TITLE}` : BASE_TITLE;
}

function tickWaits() {
  for (const item of state.queue) {
    const node = document.querySelector(`[data-wait="${CSS.escape(item.conversation_id)}"]`);
    if (node) node.textContent = `waiting ${waitingText(item)}`;
  }
}

// ---------------------------------------------------------------- my conversations

async function loadMine() {
  state.mine = await api("GET", "/api/v1/agent/conversations?status=assigned");
  renderMine();
}

function renderMine() {
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

// ---------------------------------------------------------------- a conversation

async function claim(id) {
  await api("POST", `/api/v1/agent/conversations/${encodeURIComponent(id)}/claim`);
  state.newIds.delete(id);
  await Promise.all([loadQueue(), loadMine()]);
  await openConversation(id);
  $("reply").focus();
}

async function openConversation(id) {
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

async function reloadView(id) {
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

async function loadMessagesAfter(id) {
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

function onLiveMessage(event) {
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
function appendMessage(message) {
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

function addNote(note) {
  const current = state.current;
  if (!current || current.noteIds.has(note.id)) return;
  current.noteIds.add(note.id);
  $("notes").append(
    h(
      "li",
      { class: "note" },
      h(
        "div",
        { class: "msg-meta" },
        h("span", { class: "author" }, (note.author && note.author.name) || "Staff"),
        h("time", { datetime: note.created_at }, clockTime(note.created_at)),
      ),
      h("p", { class: "msg-text" }, note.text),
    ),
  );
}

function isMine() {
  const view = state.current && state.current.view;
  return Boolean(view && view.status === "assigned" && view.agent && state.user && view.agent.id === state.user.id);
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
}

function updateControls() {
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

function row(label, value) {
  if (value === undefined || value === null || value === "") return null;
  return [h("dt", {}, label), h("dd", {}, String(value))];
}

function intentText(intent) {
  if (!intent) return null;
  if (typeof intent === "string") return intent;
  if (typeof intent !== "object" || !intent.name) return null;
  const confidence = typeof intent.confidence === "number" ? ` (${Math.round(intent.confidence * 100)}%)` : "";
  return `${intent.name}${confidence}`;
}

function renderPacket() {
  const view = state.current.view;
  const box = clear($("packet"));
  const packet = view.handoff;
  if (!packet) {
    box.append(h("p", { class: "muted" }, "No handoff packet (the bot did not hand this over)."));
    return;
  }
  const signals = packet.signals || {};
  const num = (v) => (typeof v === "number" ? v.toFixed(2) : v);
  box.append(
    h("p", { class: "summary" }, packet.summary || ""),
    h(
      "dl",
      { class: "facts" },
      row("Reason", reasonLabel(packet.reason)),
      row("Customer asked", packet.question),
      row("Intent in progress", packet.intent),
      row("Intent guess", intentText(signals.intent)),
      row("Best article score", num(signals.kb_top_score)),
      row("Sentiment", signals.sentiment !== undefined ? sentimentLabel(signals.sentiment) : null),
      row("Sentiment trend", num(signals.sentiment_trend)),
      row("Bot replies", packet.bot_turns),
      row("Contact email", view.contact_email),
      row("Follow up by email", view.follow_up ? "yes (nobody was online)" : null),
    ),
  );
  const slots = Object.entries(packet.slots || {});
  if (slots.length) {
    box.append(
      h("h3", {}, "Details collected"),
      h("dl", { class: "facts" }, slots.map(([k, v]) => row(k, v))),
    );
  }
  if ((packet.articles || []).length) {
    box.append(
      h("h3", {}, "Articles the bot tried"),
      h(
        "ul",
        { class: "tried" },
        packet.articles.map((a) =>
          h("li", {}, `${a.title} `, h("span", { class: "muted" }, `(${Number(a.score).toFixed(2)})`)),
        ),
      ),
    );
  }
}

// ---------------------------------------------------------------- replying

async function sendReply(event) {
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

async function addNoteFromForm(event) {
  event.preventDefault();
  const current = state.current;
  const box = $("note");
  const text = box.value;
  if (!current || !text.trim()) return;
  const button = event.submitter || $("note-form").querySelector("button");
  await busy(button, async () => {
    const note = await api("POST", `/api/v1/agent/conversations/${encodeURIComponent(current.id)}/notes`, {
      body: { text },
    });
    box.value = "";
    if (state.current && state.current.id === current.id) addNote(note);
  });
}

async function loadCanned() {
  state.canned = await api("GET", "/api/v1/agent/canned");
  const select = $("canned");
  clear(select);
  select.append(h("option", { value: "" }, state.canned.length ? "Canned responses…" : "No canned responses"));
  for (const item of state.canned) {
    select.append(h("option", { value: String(item.id) }, `/${item.shortcut} — ${item.title}`));
  }
}

function insertCanned() {
  const chosen = state.canned.find((c) => String(c.id) === $("canned").value);
  if (!chosen) {
    $("canned").focus();
    return;
  }
  insertAtCaret($("reply"), chosen.text);
  $("canned").value = "";
}

/** "/shortcut" + Tab in the reply box expands a canned response. */
function expandShortcut(event) {
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

async function loadAssist() {
  const current = state.current;
  if (!current) return;
  const result = await api("GET", `/api/v1/agent/conversations/${encodeURIComponent(current.id)}/assist`);
  if (!state.current || state.current.id !== current.id) return;
  const list = clear($("assist"));
  const intent = result.intent;
  const parts = [];
  if (result.message) parts.push(`For: “${result.message.text}”`);
  if (intent) parts.push(`Intent: ${intent.name} (${Math.round(intent.confidence * 100)}%)`);
  if (result.sentiment !== null && result.sentiment !== undefined) {
    parts.push(`Sentiment: ${sentimentLabel(result.sentiment)}`);
  }
  $("assist-intent").textContent = parts.join(" · ") || "No customer message yet.";
  if (!result.articles.length) {
    list.append(h("li", { class: "muted" }, "No matching articles."));
    return;
  }
  for (const article of result.articles) {
    const excerpt = article.body.length > 220 ? `${article.body.slice(0, 220)}…` : article.body;
    list.append(
      h(
        "li",
        { class: "assist-item" },
        h(
          "div",
          { class: "qi-top" },
          h("strong", {}, article.title),
          h("span", { class: "muted small" }, `${Math.round(article.score * 100)}% match`),
        ),
        h("div", { class: "small md" }, renderMarkdown(excerpt)),
        h(
          "button",
          {
            type: "button",
            class: "small-btn",
            "aria-label": `Insert article: ${article.title}`,
            onclick: () => {
              if (!isMine()) {
                showError("Claim the conversation before replying.");
                return;
              }
              insertAtCaret($("reply"), article.body);
            },
          },
          "Insert",
        ),
      ),
    );
  }
}

// ---------------------------------------------------------------- resolve, hand back, transfer

async function conversationAction(action, body) {
  const current = state.current;
  if (!current) return;
  await api("POST", `/api/v1/agent/conversations/${encodeURIComponent(current.id)}/${action}`, { body });
  await Promise.all([loadMine(), loadQueue()]);
  await openConversation(current.id);
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

// ---------------------------------------------------------------- wiring

function wire() {
  $("login-form").addEventListener("submit", login);
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
