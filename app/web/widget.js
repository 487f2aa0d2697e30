/*
 * Switchboard chat widget: one <script src=".../widget.js"> tag embeds it on any page.
 * Options come from data- attributes on the script tag:
 *   data-api-base  where the API lives (default: the script's origin)
 *   data-title     the panel's title            data-greeting  the first line it shows
 *   data-accent    a CSS colour                 data-position  "right" (default) | "left"
 *   data-lang      the panel's language tag (e.g. "fr")
 *   data-locale    JSON of interface strings, e.g. '{"send": "Envoyer", "open": "Ouvrir le chat"}'
 *   data-text-*    one string each, e.g. data-text-send="Envoyer" (the keys of TEXT below,
 *                  dashed: data-text-email-label sets emailLabel); they win over data-locale.
 *   data-customer-id, data-customer-email, data-customer-name, data-customer-signature
 *                  the signed-in customer, signed by the site's server (hex HMAC-SHA256 of the
 *                  id with SWITCHBOARD_IDENTITY__SECRET); sent when a conversation opens. A
 *                  stored conversation of another identity (or of an anonymous visit) is not
 *                  reused: a new identity opens a new conversation.
 * It lives in a Shadow DOM (no iframe; its styles a constructed sheet, so it runs under a strict
 * CSP: no inline script or style), so the host page's CSS cannot reach it, and it renders every
 * server string as text (textContent / createElement), never as HTML. Live messages come over
 * the conversation's WebSocket, which reconnects with the last seq seen (messages deduplicated
 * by seq, so none is lost or shown twice). Markdown (answers, agents' replies) goes through the
 * one renderer of app/web/shared/markdown.js, which the /widget.js route inlines below.
 */
(() => {
  const script = document.currentScript;
  const ds = (script && script.dataset) || {};

  const TEXT = {
    title: "Chat with us",
    greeting: "Hi! Ask me anything about your order, shipping, returns or your account.",
    open: "Open chat",
    close: "Close chat",
    unread: "{count} new",
    message: "message",
    placeholder: "Type your message…",
    send: "Send",
    typing: "Typing…",
    source: "Source: {title}",
    clarify: "I'm not sure I understood that. Is your question about one of these topics?",
    position: "Place in queue: {position}",
    wait: "expected wait: about {minutes} min",
    withAgent: "You're chatting with {name}",
    waiting: "Waiting for a person to join",
    emailLabel: "Your email",
    emailSend: "Send email",
    emailInvalid: "Please enter a valid email address.",
    emailThanks: "Thanks! We'll follow up at {email}.",
    rateLabel: "Rate the help you got",
    rateScore: "{score} out of 5",
    ratePoor: "poor",
    rateGreat: "excellent",
    rateComment: "Comment (optional)",
    rateSend: "Send rating",
    rateChoose: "Choose a score from 1 to 5.",
    rateThanks: "Thank you for your feedback!",
    reconnecting: "Connection lost. Reconnecting…",
    loadFailed: "Could not load the conversation. Check your connection.",
    sendFailed: "Message not sent: check your connection and send it again.",
    sendError: "Message not sent. Please try again.",
    slowDown: "We're getting a lot of messages from your network right now. Please wait {seconds} seconds, then send it again.",
  };
  const text = { ...TEXT };
  try {
    const custom = JSON.parse(ds.locale || "{}");
    for (const key of Object.keys(TEXT)) if (typeof custom[key] === "string") text[key] = custom[key];
  } catch {
    /* a malformed data-locale keeps the defaults */
  }
  for (const attr of Object.keys(ds)) {
    const key = /^text[A-Z]/.test(attr) ? attr[4].toLowerCase() + attr.slice(5) : null;
    if (key && key in TEXT) text[key] = ds[attr];
  }
  if (ds.title) text.title = ds.title;
  if (ds.greeting) text.greeting = ds.greeting;
  const t = (key, vars = {}) => text[key].replace(/\{(\w+)\}/g, (m, name) => (name in vars ? String(vars[name]) : m));

  const opts = {
    api: (ds.apiBase || (script ? new URL(script.src).origin : "")).replace(/\/+$/, ""),
    accent: ds.accent || "#2f6f4f",
    position: ds.position === "left" ? "left" : "right",
  };
  const storeKey = `switchboard:${opts.api}:conversation`;
  const customer = ds.customerId && ds.customerSignature
    ? {
        id: ds.customerId,
        email: ds.customerEmail || null,
        name: ds.customerName || null,
        signature: ds.customerSignature,
      }
    : null;
  // Which identity a stored conversation was opened with ("" for an anonymous visitor).
  const identity = customer ? `${customer.id}:${customer.signature}` : "";

  const host = document.createElement("div");
  host.id = "switchboard-widget";
  const root = host.attachShadow({ mode: "open" });
  const side = opts.position;
  // A constructed style sheet, not a <style> element: it applies under a strict
  // Content-Security-Policy (style-src without 'unsafe-inline'), on our pages and the host's.
  const sheet = new CSSStyleSheet();
  sheet.replaceSync(`
      :host { all: initial; }
      * { box-sizing: border-box; font-family: system-ui, -apple-system, "Segoe UI", sans-serif; }
      [hidden] { display: none !important; }
      .launcher { position: fixed; bottom: 20px; ${side}: 20px; width: 56px; height: 56px;
        border-radius: 50%; border: 0; background: var(--accent); color: #fff; cursor: pointer;
        box-shadow: 0 4px 14px rgba(0,0,0,.25); z-index: 2147483000; display: grid; place-items: center; }
      .badge { position: absolute; top: -4px; right: -4px; min-width: 20px; height: 20px; padding: 0 5px;
        border-radius: 10px; background: #b3261e; color: #fff; font-size: 12px; line-height: 20px; font-weight: 700; }
      button:focus-visible, textarea:focus-visible, input:focus-visible, a:focus-visible { outline: 3px solid #ffbf47; outline-offset: 2px; }
      .panel { position: fixed; bottom: 88px; ${side}: 20px; width: min(380px, calc(100vw - 24px));
        height: min(560px, calc(100vh - 110px)); background: #fff; color: #1d2521; border-radius: 14px;
        box-shadow: 0 12px 40px rgba(0,0,0,.25); display: flex; flex-direction: column; overflow: hidden;
        z-index: 2147483000; }
      header { background: var(--accent); color: #fff; padding: 12px 16px; display: flex; align-items: center; justify-content: space-between; gap: 8px; }
      header h2 { margin: 0; font-size: 16px; font-weight: 600; }
      header p { margin: 2px 0 0; font-size: 12px; }
      header button { background: transparent; border: 0; color: #fff; font-size: 22px; cursor: pointer; line-height: 1; padding: 4px 8px; }
      .log { position: relative; flex: 1; overflow-y: auto; padding: 14px; display: flex; flex-direction: column; gap: 10px; background: #f6f7f6; }
      .msg { max-width: 85%; padding: 9px 12px; border-radius: 12px; white-space: pre-wrap; overflow-wrap: anywhere; font-size: 14px; line-height: 1.45; }
      .msg.customer { align-self: flex-end; background: var(--accent); color: #fff; border-bottom-right-radius: 4px; }
      .msg.customer.failed { opacity: .7; }
      .msg.bot, .msg.agent { align-self: flex-start; background: #fff; border: 1px solid #e1e4e2; border-bottom-left-radius: 4px; }
      .msg.agent { border-left: 4px solid var(--accent); }
      .msg .who { display: block; font-size: 12px; font-weight: 700; color: #3b4540; margin-bottom: 2px; white-space: normal; }
      .msg.system { align-self: center; max-width: 92%; background: transparent; color: #3b4540; font-size: 13px;
        font-style: italic; text-align: center; padding: 4px 8px; border-top: 1px solid #d5dad7; border-bottom: 1px solid #d5dad7; border-radius: 0; }
      .msg.system form, .msg.system .done { font-style: normal; text-align: left; }
      .sources { margin-top: 6px; font-size: 12px; color: #4d5752; }
      .msg.rich { white-space: normal; }
      .msg.rich p { margin: 0 0 8px; } .msg.rich p:last-of-type { margin-bottom: 0; }
      .msg.agent.rich p { white-space: pre-line; }
      .msg.rich pre { margin: 0 0 8px; white-space: pre-wrap; }
      .msg.rich h3 { margin: 10px 0 4px; font-size: 14px; }
      .msg.rich ul, .msg.rich ol { margin: 0 0 8px; padding-left: 20px; }
      .msg.rich li > ul, .msg.rich li > ol { margin-bottom: 0; }
      .msg.rich table { border-collapse: collapse; margin: 0 0 8px; font-size: 13px; }
      .msg.rich td, .msg.rich th { border: 1px solid #e1e4e2; padding: 3px 6px; text-align: left; vertical-align: top; }
      .msg a { color: #0b57a4; text-decoration: underline; }
      .msg code { font-family: ui-monospace, monospace; font-size: 13px; background: #eef0ef; padding: 0 3px; border-radius: 3px; }
      .chips { display: flex; flex-wrap: wrap; gap: 6px; margin-top: 8px; white-space: normal; }
      .chips button { border: 1px solid var(--accent); color: #1d2521; background: #fff; border-radius: 999px; padding: 5px 10px; font-size: 13px; cursor: pointer; }
      .chips button:hover { background: #eef3f0; }
      .notice { margin-top: 8px; padding: 8px 10px; border-radius: 8px; background: #eef3f0; color: #1d2521; font-size: 13px; white-space: normal; }
      .inline-form { display: flex; flex-direction: column; gap: 6px; margin-top: 8px; white-space: normal; }
      .inline-form label { font-size: 13px; font-weight: 600; display: flex; flex-direction: column; gap: 4px; }
      .inline-form input, .inline-form textarea { font: inherit; font-size: 14px; font-weight: 400; border: 1px solid #8a938f; border-radius: 8px; padding: 7px 9px; }
      .inline-form textarea { resize: vertical; min-height: 54px; }
      .inline-form .row { display: flex; gap: 6px; flex-wrap: wrap; }
      .inline-form button { border: 1px solid var(--accent); border-radius: 8px; padding: 7px 12px; font-size: 14px; cursor: pointer; background: #fff; color: #1d2521; }
      .inline-form button[type=submit] { background: var(--accent); color: #fff; }
      .inline-form .score { min-width: 40px; font-weight: 700; }
      .inline-form .score[aria-pressed=true] { background: var(--accent); color: #fff; }
      .inline-form .scale { font-size: 12px; color: #4d5752; font-weight: 400; }
      .form-error { color: #a4262c; font-size: 13px; }
      .done { font-size: 13px; font-weight: 600; color: #1d2521; margin-top: 6px; white-space: normal; }
      .typing { align-self: flex-start; color: #4d5752; font-size: 13px; font-style: italic; }
      .conn { background: #fff4ce; color: #3d3000; font-size: 13px; padding: 6px 12px; }
      form.composer { display: flex; gap: 8px; padding: 10px; border-top: 1px solid #e1e4e2; background: #fff; }
      form.composer textarea { flex: 1; resize: none; border: 1px solid #8a938f; border-radius: 10px; padding: 9px 10px; font-size: 14px; height: 42px; }
      form.composer button { background: var(--accent); color: #fff; border: 0; border-radius: 10px; padding: 0 14px; font-size: 14px; cursor: pointer; }
      .error { color: #a4262c; font-size: 13px; padding: 0 12px 8px; }
      @media (max-width: 480px) { .panel { bottom: 0; ${side}: 0; width: 100vw; height: 100%; border-radius: 0; } }
      @media (prefers-reduced-motion: no-preference) { .typing { animation: pulse 1.4s ease-in-out infinite; } }
      @keyframes pulse { 50% { opacity: .55; } }
  `);
  root.adoptedStyleSheets = [sheet];
  root.innerHTML = `
    <button class="launcher" type="button" aria-expanded="false"><svg viewBox="0 0 24 24" width="26" height="26" aria-hidden="true" focusable="false"><path fill="currentColor" d="M4 4h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H9l-5 4v-4H4a2 2 0 0 1-2-2V6a2 2 0 0 1 2-2zm3 6a1.5 1.5 0 1 0 0 3 1.5 1.5 0 0 0 0-3zm5 0a1.5 1.5 0 1 0 0 3 1.5 1.5 0 0 0 0-3zm5 0a1.5 1.5 0 1 0 0 3 1.5 1.5 0 0 0 0-3z"/></svg><span class="badge" aria-hidden="true" hidden></span></button>
    <section class="panel" role="dialog" hidden>
      <header><div><h2></h2><p class="status" hidden></p></div><button type="button" class="close">×</button></header>
      <div class="conn" role="status" hidden></div>
      <div class="log" role="log" aria-live="polite"></div>
      <div class="error" role="alert" hidden></div>
      <form class="composer">
        <textarea maxlength="4000"></textarea>
        <button type="submit"></button>
      </form>
    </section>`;
  root.host.style.setProperty("--accent", opts.accent);
  const $ = (sel) => root.querySelector(sel);
  const launcher = $(".launcher"), panel = $(".panel"), log = $(".log"), form = $("form.composer");
  const input = $("form.composer textarea"), errorBox = $(".error"), badge = $(".badge");
  const statusLine = $("header .status"), connBox = $(".conn");
  $("header h2").textContent = text.title;
  panel.setAttribute("aria-label", text.title);
  if (ds.lang) panel.setAttribute("lang", ds.lang);
  $(".close").setAttribute("aria-label", text.close);
  input.setAttribute("aria-label", text.message);
  input.placeholder = text.placeholder;
  $("form.composer button").textContent = text.send;

  let conversation = null;
  try { conversation = JSON.parse(localStorage.getItem(storeKey) || "null"); } catch { conversation = null; }
  if (conversation && (conversation.identity || "") !== identity) {
    conversation = null; // opened by someone else (or anonymously): never reused
    localStorage.removeItem(storeKey);
  }
  let loaded = false;
  let status = "bot"; // bot | queued | assigned | resolved
  const seen = new Set(); // every seq rendered: a message is shown once however it arrives
  let cursor = 0; // everything up to here came from storage or the stream, in order
  const pending = new Map(); // client_id -> the customer's bubble, before its seq is known
  let inFlight = 0;
  let unread = 0;
  const typing = el("div", "typing", text.typing);

  function el(tag, cls, content) {
    const node = document.createElement(tag);
    if (cls) node.className = cls;
    if (content !== undefined) node.textContent = content;
    return node;
  }

  function showError(message) {
    errorBox.textContent = message || "";
    errorBox.hidden = !message;
  }

  // ---- Markdown: the one renderer, app/web/shared/markdown.js. The /widget.js route
  // (app/widget_script.py) puts that module here, in its own function scope, in place of the
  // name below; served any other way this script stops here with a ReferenceError.
  const { renderMarkdown } = SWITCHBOARD_SHARED_MARKDOWN;
  // Every heading is an h3 under the panel's h2; bare addresses in answers become links.
  const MARKDOWN = { autolink: true, headingLevel: () => 3 };

  // ---- Messages
  // Insert by seq (a reply can arrive by HTTP and by the stream in either order); bubbles
  // without a seq yet (the customer's, being sent) stay at the end, above the typing line.
  function place(node, seq) {
    if (seq) {
      node.dataset.seq = String(seq);
      for (const other of log.children) {
        if (other.dataset.seq && Number(other.dataset.seq) > seq) {
          log.insertBefore(node, other);
          return;
        }
      }
    }
    log.insertBefore(node, typing.isConnected ? typing : null);
  }

  function scrollTo(node) {
    // Long answers are read from their first line: bring the top of a reply into view.
    log.scrollTop = node.classList.contains("customer") ? log.scrollHeight : Math.max(0, node.offsetTop - 12);
  }

  function render(message, live = false) {
    const seq = message.seq;
    if (seq && seen.has(seq)) return;
    if (seq) seen.add(seq);
    const meta = message.meta || {};
    const echo = message.author === "customer" && message.client_id && pending.get(message.client_id);
    if (echo) { // our own message, already shown: give it its seq
      pending.delete(message.client_id);
      echo.remove();
      place(echo, seq);
      return;
    }
    const bubble = el("div", `msg ${message.author === "customer" || message.author === "agent" || message.author === "system" ? message.author : "bot"}`);
    if (message.author === "agent") {
      bubble.classList.add("rich");
      bubble.append(el("span", "who", meta.agent_name || "Agent"), renderMarkdown(message.text, { ...MARKDOWN, breaks: true }));
    } else if (meta.kind === "answer" && message.author === "bot") {
      bubble.classList.add("rich");
      bubble.append(renderMarkdown(message.text, MARKDOWN));
      if (meta.sources && meta.sources.length) bubble.append(el("div", "sources", t("source", { title: meta.sources[0].title })));
    } else if (meta.kind === "clarify" && meta.suggestions && meta.suggestions.length) {
      bubble.textContent = text.clarify;
      const chips = el("div", "chips");
      for (const s of meta.suggestions) {
        const chip = el("button", "", s.title);
        chip.type = "button";
        chip.addEventListener("click", () => send(s.title));
        chips.append(chip);
      }
      bubble.append(chips);
    } else {
      bubble.textContent = message.text;
    }
    if (meta.kind === "handoff" && meta.queue) handoffNotice(bubble, meta.queue);
    if (message.author === "system") {
      if (meta.kind === "csat_request") {
        ratingForm(bubble);
        setStatus("resolved");
      }
      if (meta.kind === "csat_thanks") dropForms(".rating");
      if (meta.kind === "follow_up_saved") dropForms(".contact");
      if (meta.kind === "assigned" || meta.kind === "transfer") setStatus("assigned", meta.agent_name);
      if (meta.kind === "handback") setStatus("bot");
      if (meta.kind === "requeued") setStatus("queued");
    }
    if (meta.kind === "handoff") setStatus(meta.queue && meta.queue.assigned_to ? "assigned" : "queued", meta.queue && meta.queue.assigned_to);
    place(bubble, seq);
    if (live && panel.hidden && message.author !== "customer") {
      unread += 1;
      updateLauncher();
    }
    scrollTo(bubble);
  }

  function replyMessage(reply) {
    const { seq, text: body, kind, sources, suggestions, queue, handoff_reason } = reply;
    return { seq, author: "bot", text: body, meta: { kind, sources, suggestions, queue, handoff_reason } };
  }

  // The reply's text already says it in words; the notice restates the figures at a glance,
  // or holds the email form when nobody can reply live.
  function handoffNotice(bubble, queue) {
    if (queue.assigned_to) return;
    const notice = el("div", "notice");
    if (queue.follow_up) {
      contactForm(notice);
    } else {
      const parts = [];
      if (queue.position) parts.push(t("position", { position: queue.position }));
      if (queue.expected_wait_seconds != null) parts.push(t("wait", { minutes: Math.max(1, Math.round(queue.expected_wait_seconds / 60)) }));
      if (!parts.length) return;
      notice.textContent = parts.join(" · ");
    }
    bubble.append(notice);
  }

  // Only the latest email form and rating form stay on screen.
  function dropForms(selector, except) {
    for (const node of log.querySelectorAll(selector)) if (node !== except) node.remove();
  }

  function done(formNode, message) {
    const note = el("p", "done", message);
    note.setAttribute("role", "status");
    formNode.replaceWith(note);
  }

  function formFailure(formNode, error) {
    const box = formNode.querySelector(".form-error");
    box.textContent = error.message || text.sendError;
    box.hidden = false;
  }

  function contactForm(parent) {
    const f = el("form", "inline-form contact");
    const label = el("label");
    const field = el("input");
    Object.assign(field, { type: "email", name: "email", required: true, autocomplete: "email", maxLength: 320 });
    label.append(el("span", "", text.emailLabel), field);
    const submit = el("button", "", text.emailSend);
    submit.type = "submit";
    const err = el("div", "form-error");
    err.setAttribute("role", "alert");
    err.hidden = true;
    f.noValidate = true;
    f.append(label, submit, err);
    f.addEventListener("submit", async (e) => {
      e.preventDefault();
      const email = field.value.trim();
      if (!/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(email)) {
        formFailure(f, { message: text.emailInvalid });
        field.setAttribute("aria-invalid", "true");
        field.focus();
        return;
      }
      submit.disabled = true;
      try {
        await api(`/api/v1/conversations/${conversation.id}/contact`, { method: "POST", body: JSON.stringify({ email }) });
        done(f, t("emailThanks", { email }));
      } catch (error) {
        submit.disabled = false;
        formFailure(f, error.status === 422 ? { message: text.emailInvalid } : error);
      }
    });
    dropForms(".contact");
    parent.append(f);
  }

  function ratingForm(bubble) {
    const f = el("form", "inline-form rating");
    const group = el("div", "row");
    group.setAttribute("role", "group");
    group.setAttribute("aria-label", text.rateLabel);
    let score = 0;
    const buttons = [1, 2, 3, 4, 5].map((n) => {
      const b = el("button", "score", String(n));
      b.type = "button";
      b.setAttribute("aria-label", t("rateScore", { score: n }) + (n === 1 ? ` (${text.ratePoor})` : n === 5 ? ` (${text.rateGreat})` : ""));
      b.setAttribute("aria-pressed", "false");
      b.addEventListener("click", () => {
        score = n;
        buttons.forEach((other) => other.setAttribute("aria-pressed", String(other === b)));
      });
      group.append(b);
      return b;
    });
    const scale = el("div", "scale", `1 = ${text.ratePoor} · 5 = ${text.rateGreat}`);
    scale.setAttribute("aria-hidden", "true");
    const label = el("label");
    const comment = el("textarea");
    comment.maxLength = 2000;
    label.append(el("span", "", text.rateComment), comment);
    const submit = el("button", "", text.rateSend);
    submit.type = "submit";
    const err = el("div", "form-error");
    err.setAttribute("role", "alert");
    err.hidden = true;
    f.append(group, scale, label, submit, err);
    f.addEventListener("submit", async (e) => {
      e.preventDefault();
      if (!score) {
        formFailure(f, { message: text.rateChoose });
        buttons[0].focus();
        return;
      }
      submit.disabled = true;
      const body = { score };
      if (comment.value.trim()) body.comment = comment.value.trim();
      try {
        await api(`/api/v1/conversations/${conversation.id}/csat`, { method: "POST", body: JSON.stringify(body) });
        done(f, text.rateThanks);
      } catch (error) {
        if (error.status === 409) done(f, error.message);
        else {
          submit.disabled = false;
          formFailure(f, error);
        }
      }
    });
    dropForms(".rating");
    bubble.append(f);
  }

  // What the server says of the conversation now (after a reload or a reconnect): drop the
  // forms that are no longer due.
  async function syncState() {
    if (!conversation) return;
    try {
      const view = await api(`/api/v1/conversations/${conversation.id}`);
      setStatus(view.status, view.agent && view.agent.name);
      if (!view.csat_pending) dropForms(".rating");
      if (!view.follow_up || view.contact_email_saved || view.status !== "queued") dropForms(".contact");
    } catch {
      /* the stream or the next send will tell */
    }
  }

  function setStatus(next, agentName) {
    status = next;
    const line = next === "assigned" && agentName ? t("withAgent", { name: agentName }) : next === "queued" ? text.waiting : "";
    statusLine.textContent = line;
    statusLine.hidden = !line;
  }

  function updateLauncher() {
    const open = !panel.hidden;
    launcher.setAttribute("aria-expanded", String(open));
    const label = open ? text.close : text.open;
    launcher.setAttribute("aria-label", unread && !open ? `${label} (${t("unread", { count: unread })})` : label);
    badge.textContent = String(unread);
    badge.hidden = !unread || open;
  }

  function showTyping() {
    const botTurn = status !== "queued" && status !== "assigned";
    if (inFlight > 0 && botTurn) {
      if (!typing.isConnected) log.append(typing);
      log.scrollTop = log.scrollHeight;
    } else typing.remove();
  }

  // ---- HTTP
  async function api(path, init = {}) {
    const headers = { "Content-Type": "application/json", ...(init.headers || {}) };
    if (conversation) headers.Authorization = `Bearer ${conversation.token}`;
    const response = await fetch(`${opts.api}${path}`, { ...init, headers });
    const body = await response.json().catch(() => ({}));
    if (!response.ok) {
      const error = new Error((body.error && body.error.message) || `HTTP ${response.status}`);
      error.status = response.status;
      error.retryAfter = Number(response.headers.get("Retry-After")) || 0;
      throw error;
    }
    return body;
  }

  // One conversation per visitor: concurrent sends share the same creation.
  let creating = null;
  function ensureConversation() {
    if (conversation) return Promise.resolve();
    if (!creating) {
      const init = { method: "POST" };
      if (customer) init.body = JSON.stringify({ customer });
      creating = api("/api/v1/conversations", init)
        .then((created) => {
          conversation = { id: created.id, token: created.token, identity };
          localStorage.setItem(storeKey, JSON.stringify(conversation));
          connect();
        })
        .finally(() => { creating = null; });
    }
    return creating;
  }

  function forgetConversation() {
    conversation = null;
    localStorage.removeItem(storeKey);
    disconnect();
    seen.clear();
    cursor = 0;
    for (const node of log.querySelectorAll("[data-seq]")) delete node.dataset.seq;
    setStatus("bot");
  }

  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
  const newId = () => (crypto.randomUUID && crypto.randomUUID()) || `${Date.now()}-${Math.random()}`;

  // Post once; on a network error or a 5xx retry with the SAME client_id (the server stores it
  // once); if the stored conversation is gone or its token expired (403/404), start a new
  // one and post there.
  async function postMessage(body, clientId) {
    let restarted = false;
    for (let attempt = 0; ; attempt++) {
      await ensureConversation();
      try {
        return await api(`/api/v1/conversations/${conversation.id}/messages`, {
          method: "POST",
          body: JSON.stringify({ text: body, client_id: clientId }),
        });
      } catch (error) {
        if ((error.status === 403 || error.status === 404) && !restarted) {
          restarted = true;
          forgetConversation();
          continue;
        }
        const retriable = error.status === undefined || error.status >= 500;
        if (!retriable || attempt >= 2) throw error;
        await sleep(500 * 2 ** attempt);
      }
    }
  }

  async function loadHistory() {
    if (loaded) return;
    loaded = true;
    log.append(el("div", "msg bot", text.greeting));
    if (!conversation) return;
    try {
      let page;
      do {
        page = await api(`/api/v1/conversations/${conversation.id}/messages?after=${cursor}&limit=500`);
        page.messages.forEach((m) => render(m));
        cursor = Math.max(cursor, ...page.messages.map((m) => m.seq));
      } while (page.has_more);
      await syncState();
      connect();
    } catch (error) {
      if (error.status === 403 || error.status === 404) forgetConversation();
      else {
        showError(text.loadFailed);
        connect(); // the stream replays what the page could not load
      }
    }
  }

  // A 429 is not a fault: say calmly how long to wait (the server's Retry-After).
  function failureText(error) {
    if (error.status === undefined) return text.sendFailed;
    if (error.status === 429) return text.slowDown.replace("{seconds}", String(Math.max(1, error.retryAfter)));
    return error.message || text.sendError;
  }

  async function send(body) {
    body = body.trim();
    if (!body) return;
    showError("");
    const clientId = newId();
    const bubble = el("div", "msg customer", body);
    pending.set(clientId, bubble);
    place(bubble);
    scrollTo(bubble);
    inFlight += 1;
    showTyping();
    try {
      const result = await postMessage(body, clientId);
      render(result.message);
      if (result.reply) render(replyMessage(result.reply));
    } catch (error) {
      pending.delete(clientId);
      bubble.classList.add("failed");
      showError(failureText(error));
    } finally {
      inFlight -= 1;
      showTyping();
    }
  }

  // ---- The live stream: auth frame first, replay after the cursor, then live events; on a
  // drop, reconnect with backoff from the cursor (what arrives twice is dropped by seq).
  let socket = null;
  let retries = 0;
  let retryTimer = null;
  let pingTimer = null;

  function connect() {
    if (!conversation || socket || retryTimer) return;
    const { id, token } = conversation;
    const url = new URL(`${opts.api}/api/v1/conversations/${encodeURIComponent(id)}/stream`, location.href);
    url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
    url.searchParams.set("after", String(cursor));
    let ws;
    try {
      ws = new WebSocket(url.href);
    } catch {
      return;
    }
    socket = ws;
    ws.onopen = () => {
      ws.send(JSON.stringify({ type: "auth", token }));
      pingTimer = setInterval(() => ws.readyState === 1 && ws.send('{"type":"ping"}'), 25000);
    };
    ws.onmessage = (e) => {
      let event;
      try { event = JSON.parse(e.data); } catch { return; }
      if (event.type === "message" && event.message) {
        render(event.message, true);
        cursor = Math.max(cursor, event.seq || event.message.seq || 0);
      } else if (event.type === "ready") {
        cursor = Math.max(cursor, event.seq || 0);
        if (retries > 0) syncState();
        retries = 0;
        connBox.hidden = true;
      } else if (event.type === "status") {
        setStatus(event.status, event.agent && event.agent.name);
        showTyping();
      }
    };
    ws.onclose = (e) => {
      clearInterval(pingTimer);
      if (socket !== ws) return;
      socket = null;
      if (e.code === 4401 || e.code === 4403 || e.code === 4404) return; // not ours any more
      if (e.code === 4400) cursor = 0; // our position was wrong: replay it all (deduplicated)
      if (retries > 0) {
        connBox.textContent = text.reconnecting;
        connBox.hidden = false;
      }
      const delay = Math.min(30000, 500 * 2 ** retries) * (0.5 + Math.random() / 2);
      retries += 1;
      retryTimer = setTimeout(() => { retryTimer = null; connect(); }, delay);
    };
  }

  function disconnect() {
    clearTimeout(retryTimer);
    retryTimer = null;
    retries = 0;
    connBox.hidden = true;
    const ws = socket;
    socket = null;
    if (ws) ws.close(1000);
  }

  addEventListener("online", () => {
    if (retryTimer) { clearTimeout(retryTimer); retryTimer = null; connect(); }
  });

  function toggle(open) {
    panel.hidden = !open;
    if (open) unread = 0;
    updateLauncher();
    if (open) {
      loadHistory();
      input.focus();
    }
  }

  updateLauncher();
  launcher.addEventListener("click", () => toggle(panel.hidden));
  $(".close").addEventListener("click", () => { toggle(false); launcher.focus(); });
  panel.addEventListener("keydown", (e) => { if (e.key === "Escape") { toggle(false); launcher.focus(); } });
  form.addEventListener("submit", (e) => { e.preventDefault(); const v = input.value; input.value = ""; send(v); });
  input.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) { e.preventDefault(); form.requestSubmit(); }
  });

  (document.body ? Promise.resolve() : new Promise((r) => addEventListener("DOMContentLoaded", r)))
    .then(() => document.body.append(host));
})();
