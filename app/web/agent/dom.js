// Small DOM helpers. Server strings only ever become text nodes (never HTML).

/** el("li", {class: "x", dataset: {id: 1}, onclick: fn}, "text", childNode, ...) */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "dataset") Object.assign(node.dataset, value);
    else if (key.startsWith("on") && typeof value === "function") {
      node.addEventListener(key.slice(2), value);
    } else if (value === true) node.setAttribute(key, "");
    else node.setAttribute(key, String(value));
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

export const $ = (id) => document.getElementById(id);

export function clear(node) {
  node.replaceChildren();
  return node;
}

/** "45 s", "3 min", "2 h 5 min" */
export function duration(seconds) {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s} s`;
  const minutes = Math.floor(s / 60);
  if (minutes < 60) return `${minutes} min`;
  const hours = Math.floor(minutes / 60);
  const rest = minutes % 60;
  return rest ? `${hours} h ${rest} min` : `${hours} h`;
}

export function clockTime(iso) {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return "";
  return date.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
}

const REASONS = {
  explicit_request: "Asked for a person",
  low_confidence: "Bot not confident",
  negative_sentiment: "Unhappy customer",
  repeated_fallback: "Bot kept missing",
  intent_requires_human: "Needs a person",
  action_failed: "Order system failed",
};

export function reasonLabel(reason) {
  if (!reason) return "Handoff";
  return REASONS[reason] || String(reason).replaceAll("_", " ");
}

export function sentimentLabel(value) {
  if (value === null || value === undefined || Number.isNaN(Number(value))) return "unknown";
  const v = Number(value);
  const word = v <= -0.25 ? "negative" : v >= 0.2 ? "positive" : "neutral";
  return `${word} (${v.toFixed(2)})`;
}

export function sentimentClass(value) {
  if (value === null || value === undefined) return "neutral";
  const v = Number(value);
  return v <= -0.25 ? "negative" : v >= 0.2 ? "positive" : "neutral";
}

/** Insert text at the caret of a textarea (on its own paragraph if there is text already). */
export function insertAtCaret(textarea, text) {
  const start = textarea.selectionStart ?? textarea.value.length;
  const end = textarea.selectionEnd ?? textarea.value.length;
  const before = textarea.value.slice(0, start);
  const after = textarea.value.slice(end);
  const lead = before && !before.endsWith("\n") ? "\n\n" : "";
  const trail = after && !after.startsWith("\n") ? "\n\n" : "";
  textarea.value = before + lead + text + trail + after;
  const caret = (before + lead + text).length;
  textarea.focus();
  textarea.setSelectionRange(caret, caret);
  textarea.dispatchEvent(new Event("input", { bubbles: true }));
}
