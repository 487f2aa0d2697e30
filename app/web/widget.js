/*
 * Switchboard chat widget: one <script src=".../widget.js"> tag embeds it on any page.
 * Options come from data- attributes on the script tag:
 *   data-api-base (default: the script's origin), data-title, data-greeting,
 *   data-accent (CSS colour), data-position ("right" | "left").
 * It lives in a Shadow DOM, so the host page's CSS cannot reach it, and it renders every
 * server string as text (textContent), never as HTML.
 */
(() => {
  const script = document.currentScript;
  const opts = {
    api: ((script && script.dataset.apiBase) || (script ? new URL(script.src).origin : "")).replace(/\/+$/, ""),
    title: (script && script.dataset.title) || "Chat with us",
    greeting: (script && script.dataset.greeting) || "Hi! Ask me anything about your order, shipping, returns or your account.",
    accent: (script && script.dataset.accent) || "#2f6f4f",
    position: (script && script.dataset.position) === "left" ? "left" : "right",
  };
  const storeKey = `switchboard:${opts.api}:conversation`;

  const host = document.createElement("div");
  host.id = "switchboard-widget";
  const root = host.attachShadow({ mode: "open" });
  root.innerHTML = `
    <style>
      :host { all: initial; }
      * { box-sizing: border-box; font-family: system-ui, -apple-system, "Segoe UI", sans-serif; }
      .launcher { position: fixed; bottom: 20px; ${opts.position}: 20px; width: 56px; height: 56px;
        border-radius: 50%; border: 0; background: var(--accent); color: #fff; cursor: pointer;
        box-shadow: 0 4px 14px rgba(0,0,0,.25); z-index: 2147483000; display: grid; place-items: center; }
      .launcher:focus-visible, button:focus-visible, textarea:focus-visible { outline: 3px solid #ffbf47; outline-offset: 2px; }
      .panel { position: fixed; bottom: 88px; ${opts.position}: 20px; width: min(380px, calc(100vw - 24px));
        height: min(560px, calc(100vh - 110px)); background: #fff; color: #1d2521; border-radius: 14px;
        box-shadow: 0 12px 40px rgba(0,0,0,.25); display: flex; flex-direction: column; overflow: hidden;
        z-index: 2147483000; }
      .panel[hidden] { display: none; }
      header { background: var(--accent); color: #fff; padding: 14px 16px; display: flex; align-items: center; justify-content: space-between; }
      header h2 { margin: 0; font-size: 16px; font-weight: 600; }
      header button { background: transparent; border: 0; color: #fff; font-size: 22px; cursor: pointer; line-height: 1; }
      .log { flex: 1; overflow-y: auto; padding: 14px; display: flex; flex-direction: column; gap: 10px; background: #f6f7f6; }
      .msg { max-width: 85%; padding: 9px 12px; border-radius: 12px; white-space: pre-wrap; overflow-wrap: anywhere; font-size: 14px; line-height: 1.45; }
      .msg.customer { align-self: flex-end; background: var(--accent); color: #fff; border-bottom-right-radius: 4px; }
      .msg.bot, .msg.agent, .msg.system { align-self: flex-start; background: #fff; border: 1px solid #e1e4e2; border-bottom-left-radius: 4px; }
      .sources { margin-top: 6px; font-size: 12px; color: #5a6660; }
      .msg.rich { white-space: normal; }
      .msg.rich p { margin: 0 0 8px; } .msg.rich p:last-of-type { margin-bottom: 0; }
      .msg.rich h4 { margin: 10px 0 4px; font-size: 14px; }
      .msg.rich ul, .msg.rich ol { margin: 0 0 8px; padding-left: 20px; }
      .msg.rich table { border-collapse: collapse; margin: 0 0 8px; font-size: 13px; }
      .msg.rich td, .msg.rich th { border: 1px solid #e1e4e2; padding: 3px 6px; text-align: left; vertical-align: top; }
      .chips { display: flex; flex-wrap: wrap; gap: 6px; margin-top: 8px; }
      .chips button { border: 1px solid var(--accent); color: var(--accent); background: #fff; border-radius: 999px; padding: 5px 10px; font-size: 13px; cursor: pointer; }
      .typing { align-self: flex-start; color: #5a6660; font-size: 13px; font-style: italic; }
      form { display: flex; gap: 8px; padding: 10px; border-top: 1px solid #e1e4e2; background: #fff; }
      textarea { flex: 1; resize: none; border: 1px solid #c8cecb; border-radius: 10px; padding: 9px 10px; font-size: 14px; height: 42px; }
      form button { background: var(--accent); color: #fff; border: 0; border-radius: 10px; padding: 0 14px; font-size: 14px; cursor: pointer; }
      .error { color: #a4262c; font-size: 13px; padding: 0 12px 8px; }
      @media (max-width: 480px) { .panel { bottom: 0; ${opts.position}: 0; width: 100vw; height: 100vh; border-radius: 0; } }
    </style>
    <button class="launcher" type="button" aria-label="Open chat" aria-expanded="false"><svg viewBox="0 0 24 24" width="26" height="26" aria-hidden="true" focusable="false"><path fill="currentColor" d="M4 4h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H9l-5 4v-4H4a2 2 0 0 1-2-2V6a2 2 0 0 1 2-2zm3 6a1.5 1.5 0 1 0 0 3 1.5 1.5 0 0 0 0-3zm5 0a1.5 1.5 0 1 0 0 3 1.5 1.5 0 0 0 0-3zm5 0a1.5 1.5 0 1 0 0 3 1.5 1.5 0 0 0 0-3z"/></svg></button>
    <section class="panel" role="dialog" aria-label="${""}" hidden>
      <header><h2></h2><button type="button" class="close" aria-label="Close chat">×</button></header>
      <div class="log" role="log" aria-live="polite"></div>
      <div class="error" role="alert" hidden></div>
      <form>
        <textarea aria-label="message" placeholder="Type your message…" maxlength="4000"></textarea>
        <button type="submit">Send</button>
      </form>
    </section>`;
  root.host.style.setProperty("--accent", opts.accent);
  const $ = (sel) => root.querySelector(sel);
  const launcher = $(".launcher"), panel = $(".panel"), log = $(".log"), form = $("form");
  const input = $("textarea"), errorBox = $(".error");
  $("header h2").textContent = opts.title;
  panel.setAttribute("aria-label", opts.title);

  let conversation = null;
  try { conversation = JSON.parse(localStorage.getItem(storeKey) || "null"); } catch { conversation = null; }
  let lastSeq = 0;
  let loaded = false;

  function el(tag, cls, text) {
    const node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function showError(text) {
    errorBox.textContent = text || "";
    errorBox.hidden = !text;
  }

  // A small Markdown subset (headings, paragraphs, lists, tables, **bold**) built as DOM nodes
  // with textContent only: no server string is ever parsed as HTML.
  function inline(parent, text) {
    text.split(/(\*\*[^*]+\*\*)/).forEach((part) => {
      if (/^\*\*[^*]+\*\*$/.test(part)) parent.append(el("strong", "", part.slice(2, -2)));
      else if (part) parent.append(document.createTextNode(part.replace(/`/g, "")));
    });
    return parent;
  }

  function markdown(text) {
    const frag = document.createDocumentFragment();
    for (const block of text.split(/\n\s*\n/)) {
      const lines = block.split("\n").filter((l) => l.trim());
      if (!lines.length) continue;
      if (/^#{1,6}\s/.test(lines[0]) && lines.length === 1) {
        frag.append(inline(el("h4"), lines[0].replace(/^#+\s*/, "")));
      } else if (lines.every((l) => /^\s*([-*+]|\d+[.)])\s+/.test(l))) {
        const list = el(/^\s*\d/.test(lines[0]) ? "ol" : "ul");
        lines.forEach((l) => list.append(inline(el("li"), l.replace(/^\s*([-*+]|\d+[.)])\s+/, ""))));
        frag.append(list);
      } else if (lines.every((l) => l.trim().startsWith("|"))) {
        const table = el("table");
        lines.filter((l) => !/^\s*\|[\s:|-]+\|\s*$/.test(l)).forEach((l, i) => {
          const row = el("tr");
          l.trim().replace(/^\||\|$/g, "").split("|").forEach((cell) => row.append(inline(el(i ? "td" : "th"), cell.trim())));
          table.append(row);
        });
        frag.append(table);
      } else {
        if (/^#{1,6}\s/.test(lines[0])) frag.append(inline(el("h4"), lines.shift().replace(/^#+\s*/, "")));
        frag.append(inline(el("p"), lines.join(" ")));
      }
    }
    return frag;
  }

  function render(message) {
    if (message.seq && message.seq <= lastSeq) return;
    if (message.seq) lastSeq = message.seq;
    const meta = message.meta || {};
    const bubble = el("div", `msg ${message.author}`);
    if (meta.kind === "answer") {
      bubble.classList.add("rich");
      bubble.append(markdown(message.text));
    } else {
      bubble.textContent = message.text;
    }
    if (meta.kind === "answer" && meta.sources && meta.sources.length) {
      bubble.append(el("div", "sources", `Source: ${meta.sources[0].title}`));
    }
    if (meta.kind === "clarify" && meta.suggestions && meta.suggestions.length) {
      bubble.textContent = "I'm not sure I understood that. Is your question about one of these topics?";
      const chips = el("div", "chips");
      for (const s of meta.suggestions) {
        const chip = el("button", "", s.title);
        chip.type = "button";
        chip.addEventListener("click", () => send(s.title));
        chips.append(chip);
      }
      bubble.append(chips);
    }
    log.append(bubble);
    // Long answers are read from their first line: bring the top of a reply into view.
    log.scrollTop = message.author === "customer" ? log.scrollHeight : Math.max(0, bubble.offsetTop - 12);
  }

  async function api(path, init = {}) {
    const headers = { "Content-Type": "application/json", ...(init.headers || {}) };
    if (conversation) headers.Authorization = `Bearer ${conversation.token}`;
    const response = await fetch(`${opts.api}${path}`, { ...init, headers });
    const body = await response.json().catch(() => ({}));
    if (!response.ok) {
      const error = new Error((body.error && body.error.message) || `HTTP ${response.status}`);
      error.status = response.status;
      throw error;
    }
    return body;
  }

  // One conversation per visitor: concurrent sends share the same creation.
  let creating = null;
  function ensureConversation() {
    if (conversation) return Promise.resolve();
    if (!creating) {
      creating = api("/api/v1/conversations", { method: "POST" })
        .then((created) => {
          conversation = { id: created.id, token: created.token };
          localStorage.setItem(storeKey, JSON.stringify(conversation));
        })
        .finally(() => { creating = null; });
    }
    return creating;
  }

  function forgetConversation() {
    conversation = null;
    localStorage.removeItem(storeKey);
  }

  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

  // Post once; on a network error or a 5xx retry with the SAME client_id (the server stores it
  // once); if the stored conversation is gone (403/404), start a new one and post there.
  async function postMessage(text) {
    const clientId = (crypto.randomUUID && crypto.randomUUID()) || `${Date.now()}-${Math.random()}`;
    let restarted = false;
    for (let attempt = 0; ; attempt++) {
      await ensureConversation();
      try {
        return await api(`/api/v1/conversations/${conversation.id}/messages`, {
          method: "POST",
          body: JSON.stringify({ text, client_id: clientId }),
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
    log.append(el("div", "msg bot", opts.greeting));
    if (!conversation) return;
    try {
      let page;
      do {
        page = await api(`/api/v1/conversations/${conversation.id}/messages?after=${lastSeq}&limit=500`);
        page.messages.forEach(render);
      } while (page.has_more);
    } catch (error) {
      if (error.status === 403 || error.status === 404) {
        forgetConversation();
      } else {
        showError("Could not load the conversation. Check your connection.");
      }
    }
  }

  async function send(text) {
    text = text.trim();
    if (!text) return;
    showError("");
    const typing = el("div", "typing", "Typing…");
    render({ author: "customer", text });
    log.append(typing);
    log.scrollTop = log.scrollHeight;
    try {
      const result = await postMessage(text);
      typing.remove();
      lastSeq = Math.max(lastSeq, result.message.seq);
      if (result.reply) {
        const { seq, text: replyText, kind, sources, suggestions } = result.reply;
        render({ seq, author: "bot", text: replyText, meta: { kind, sources, suggestions } });
      }
    } catch (error) {
      typing.remove();
      showError(
        error.status === undefined
          ? "Message not sent: check your connection and send it again."
          : error.message || "Message not sent. Please try again.",
      );
    }
  }

  function toggle(open) {
    panel.hidden = !open;
    launcher.setAttribute("aria-expanded", String(open));
    launcher.setAttribute("aria-label", open ? "Close chat" : "Open chat");
    if (open) {
      loadHistory();
      input.focus();
    }
  }

  launcher.addEventListener("click", () => toggle(panel.hidden));
  $(".close").addEventListener("click", () => { toggle(false); launcher.focus(); });
  panel.addEventListener("keydown", (e) => { if (e.key === "Escape") { toggle(false); launcher.focus(); } });
  form.addEventListener("submit", (e) => { e.preventDefault(); const t = input.value; input.value = ""; send(t); });
  input.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && !e.shiftKey) { e.preventDefault(); form.requestSubmit(); }
  });

  (document.body ? Promise.resolve() : new Promise((r) => addEventListener("DOMContentLoaded", r)))
    .then(() => document.body.append(host));
})();
