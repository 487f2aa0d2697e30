// "Try it": what the bot would do with a message, and why (stores nothing).
import { api } from "./api.js";
import { clear, field, h, say } from "../shared/dom.js";
import { renderMarkdown } from "../shared/markdown.js";

function num(value, digits = 3) {
  return typeof value === "number" ? value.toFixed(digits) : "—";
}

function describe(key, value) {
  if (value === null || value === undefined) return "—";
  if (typeof value === "number") return num(value);
  if (typeof value === "object") return JSON.stringify(value);
  return String(value);
}

export function initTry(section, ctx) {
  const text = h("textarea", { name: "text", rows: 3, maxlength: 4000 });
  const msg = h("p", { class: "notice", role: "alert", hidden: true });
  const result = h("div", { class: "try-result", "aria-live": "polite" });
  const button = h("button", { type: "submit" }, "Try it");
  const form = h(
    "form",
    { class: "panel", novalidate: true },
    h("p", {}, "Type a customer's message to see what the bot would answer and why. Nothing is stored."),
    field("Customer message", text).wrap,
    msg,
    h("div", { class: "actions" }, button),
  );
  text.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) form.requestSubmit();
  });
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (!text.value.trim()) {
      say(msg, "Type a message first.", "error");
      text.focus();
      return;
    }
    say(msg, "");
    button.disabled = true;
    try {
      show(await api("POST", "/api/v1/admin/try", { body: { text: text.value } }));
    } catch (error) {
      say(msg, error.message, "error");
    } finally {
      button.disabled = false;
    }
  });

  function show(data) {
    clear(result);
    const reply = data.reply || {};
    const decision = data.decision || {};
    const replyBody = h("div", { class: "bubble" }, renderMarkdown(reply.text || ""));
    const facts = h("dl", { class: "facts" });
    const add = (term, value) => facts.append(h("dt", {}, term), h("dd", {}, value));
    add("Decision", `${decision.kind || reply.kind}${reply.handoff_reason ? ` (${reply.handoff_reason})` : ""}`);
    add("Reason", decision.reason || reply.reason || "—");
    add("Confidence", num(reply.confidence));
    add("Knowledge-base confidence", num(data.kb_confidence));
    const intent = data.signals && data.signals.intent;
    add("Intent", intent ? `${intent.name} (${num(intent.confidence)})` : reply.intent || "none");
    add("Sentiment", num(data.signals && data.signals.sentiment, 2));
    const scores = h("tbody");
    for (const a of data.articles || []) {
      scores.append(
        h(
          "tr",
          {},
          h("td", {}, h("button", { type: "button", class: "link", onclick: () => ctx.openArticle(a.article_id) }, a.title)),
          h("td", {}, num(a.score)),
          h("td", {}, a.matched || ""),
        ),
      );
    }
    const details = h(
      "details",
      {},
      h("summary", {}, "All decision figures"),
      h(
        "dl",
        { class: "facts" },
        Object.entries(decision).flatMap(([k, v]) => [h("dt", {}, k), h("dd", {}, describe(k, v))]),
      ),
    );
    result.append(
      h(
        "section",
        { class: "panel", "aria-labelledby": "try-reply-title" },
        h("h2", { id: "try-reply-title" }, `The bot would reply: ${reply.kind || decision.kind}`),
        replyBody,
        reply.suggestions && reply.suggestions.length
          ? h("p", {}, "Suggestions: ", reply.suggestions.map((s) => (typeof s === "string" ? s : s.title)).join(" · "))
          : null,
      ),
      h(
        "section",
        { class: "panel", "aria-labelledby": "try-why-title" },
        h("h2", { id: "try-why-title" }, "Why"),
        facts,
        h(
          "table",
          { class: "list" },
          h("caption", {}, "Closest articles"),
          h("thead", {}, h("tr", {}, ["Article", "Score", "Matched on"].map((t) => h("th", { scope: "col" }, t)))),
          scores,
        ),
        details,
      ),
    );
  }

  section.append(form, result);
  return { show() {} };
}
