// Agent assist: articles that match the customer's last message, each one click away from the
// reply box.

import { $, clear, h, insertAtCaret } from "../shared/dom.js";
import { renderMarkdown } from "../shared/markdown.js";
import { api } from "./api.js";
import { showError } from "./feedback.js";
import { sentimentLabel } from "./format.js";
import { isMine, state } from "./state.js";

export async function loadAssist() {
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
