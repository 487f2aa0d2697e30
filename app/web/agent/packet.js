// The handoff packet panel: why the bot handed over, what it knew (intent, scores, sentiment,
// details collected) and the articles it tried.

import { $, clear, h } from "../shared/dom.js";
import { reasonLabel, sentimentLabel } from "./format.js";
import { state } from "./state.js";

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

export function renderPacket() {
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
