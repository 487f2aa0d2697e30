// The DOM helpers of both consoles. Every string goes in as text (textContent / text nodes),
// never as HTML.

/**
 * h("button", {class: "x", onclick: fn, "aria-label": "..."}, "text", childNode, [more])
 * Attributes starting with "on" become listeners; booleans toggle attributes; null is skipped.
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key.startsWith("on") && typeof value === "function") {
      el.addEventListener(key.slice(2), value);
    } else if (key === "class") {
      el.className = value;
    } else if (key === "dataset") {
      Object.assign(el.dataset, value);
    } else if (key === "value" || key === "checked" || key === "selected") {
      el[key] = value;
    } else if (value === true) {
      el.setAttribute(key, "");
    } else {
      el.setAttribute(key, String(value));
    }
  }
  append(el, children);
  return el;
}

export function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

export function clear(el) {
  el.replaceChildren();
  return el;
}

export const $ = (id) => document.getElementById(id);

/** Show `message` in a status/alert region (text only); an empty message hides it. */
export function say(region, message, kind = "info") {
  region.textContent = message || "";
  region.dataset.kind = kind;
  region.hidden = !message;
}

export function formatDate(value) {
  if (!value) return "";
  const date = new Date(value);
  if (Number.isNaN(date.getTime())) return String(value);
  return date.toLocaleString(undefined, { dateStyle: "short", timeStyle: "short" });
}

let idCounter = 0;
export function uid(prefix = "id") {
  idCounter += 1;
  return `${prefix}-${idCounter}`;
}

/** A labelled form control: returns {wrap, input}. */
export function field(label, input, hint) {
  if (!input.id) input.id = uid("f");
  const children = [h("label", { for: input.id }, label)];
  if (hint) {
    const hintId = uid("hint");
    input.setAttribute("aria-describedby", hintId);
    children.push(h("span", { class: "hint", id: hintId }, hint));
  }
  children.push(input);
  return { wrap: h("div", { class: "field" }, children), input };
}

/** The focus key (data-focus-key) of the control in `list` that has the focus, if any: a list
 * rebuilt from scratch gives the focus back with restoreFocus. */
export function rememberFocus(list) {
  const active = document.activeElement;
  if (!active || !list.contains(active)) return null;
  return active.dataset.focusKey || null;
}

export function restoreFocus(list, key) {
  if (!key) return;
  const target = list.querySelector(`[data-focus-key="${CSS.escape(key)}"]`);
  if (target) target.focus();
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
