// The one Markdown renderer of Switchboard: the widget, the agent console and the admin console
// all use it (the consoles import this module; the /widget.js route inlines it into the
// widget's script, see app/widget_script.py). It builds DOM nodes, never parses HTML, for
// paragraphs, headings, bulleted and numbered lists (nested by indentation), fenced and inline
// code, **bold**, *italic* / _italic_, simple pipe tables and [links](https://...) whose target
// is http or https only (anything else stays text); with `autolink`, bare http(s) addresses
// become links too.
// Its exports are plain `export function` / `export const` declarations, and it imports
// nothing: that is what lets app/widget_script.py inline it into a classic script.

const SAFE_PROTOCOLS = new Set(["http:", "https:"]);

export function safeHref(href) {
  try {
    const url = new URL(href.trim());
    return SAFE_PROTOCOLS.has(url.protocol) ? url.href : null;
  } catch {
    return null;
  }
}

// On a tie (two rules matching at the same place) the earlier rule wins.
const INLINE = [
  { kind: "code", re: /`([^`\n]+)`/ },
  { kind: "link", re: /\[([^\]\n]+)\]\(([^()\s]+)\)/ },
  { kind: "strong", re: /\*\*(?=\S)([\s\S]*?\S)\*\*|__(?=\S)([\s\S]*?\S)__/ },
  { kind: "em", re: /\*(?=\S)([^*]*?\S)\*|(?<![\w])_(?=\S)([^_]*?\S)_(?![\w])/ },
];
// A bare address ends before trailing punctuation: "see https://x.test/a." links https://x.test/a
const URL_RULE = { kind: "url", re: /https?:\/\/[^\s<>()]*[^\s<>().,;:!?'"]/ };

function newLink(href) {
  const a = document.createElement("a");
  a.href = href;
  a.rel = "noopener noreferrer nofollow";
  a.target = "_blank";
  return a;
}

/** Append the inline Markdown of `text` to `parent` as text nodes and elements; with
 * `autolink`, bare http(s) addresses become links. */
export function renderInline(text, parent, { autolink = false } = {}, depth = 0) {
  const rules = autolink ? [...INLINE, URL_RULE] : INLINE;
  let rest = text;
  while (rest) {
    let best = null;
    for (const rule of rules) {
      const match = rule.re.exec(rest);
      if (match && (best === null || match.index < best.match.index)) best = { rule, match };
    }
    if (!best || depth > 8) {
      parent.append(document.createTextNode(rest));
      return parent;
    }
    const { rule, match } = best;
    if (match.index > 0) parent.append(document.createTextNode(rest.slice(0, match.index)));
    if (rule.kind === "code") {
      const code = document.createElement("code");
      code.textContent = match[1];
      parent.append(code);
    } else if (rule.kind === "link") {
      const href = safeHref(match[2]);
      if (href) {
        // a link's label holds no further links: no autolink inside it
        parent.append(renderInline(match[1], newLink(href), {}, depth + 1));
      } else {
        parent.append(document.createTextNode(match[0]));
      }
    } else if (rule.kind === "url") {
      const href = safeHref(match[0]);
      if (href) parent.append(Object.assign(newLink(href), { textContent: match[0] }));
      else parent.append(document.createTextNode(match[0]));
    } else {
      const el = document.createElement(rule.kind);
      renderInline(match[1] ?? match[2], el, { autolink }, depth + 1);
      parent.append(el);
    }
    rest = rest.slice(match.index + match[0].length);
  }
  return parent;
}

const BULLET = /^\s*[-*+]\s+(.*)$/;
const NUMBER = /^\s*\d{1,9}[.)]\s+(.*)$/;
const HEADING = /^(#{1,6})\s+(.*?)\s*#*\s*$/;
const FENCE = /^\s*(```|~~~)/;
const TABLE_ROW = /^\s*\|.*\|\s*$/;
const TABLE_RULE = /^\s*\|?\s*:?-{3,}:?\s*(\|\s*:?-{3,}:?\s*)*\|?\s*$/;

function cells(line) {
  return line.trim().replace(/^\|/, "").replace(/\|$/, "").split("|").map((c) => c.trim());
}

const indentOf = (line) => line.length - line.trimStart().length;

/** The list that starts at `lines[start]` (a bullet or numbered item); returns [list, the index
 * of the first line after it]. An item's more-indented lines continue its text, or, when they
 * start with a bullet or a number, make a list nested in it. */
function renderList(lines, start, inline) {
  const indent = indentOf(lines[start]);
  const kind = BULLET.test(lines[start]) ? "ul" : "ol";
  const marker = kind === "ul" ? BULLET : NUMBER;
  const items = []; // {text, nested: [lists]}
  let i = start;
  while (i < lines.length && lines[i].trim() && indentOf(lines[i]) >= indent) {
    const line = lines[i];
    const deeper = indentOf(line) > indent;
    const item = items[items.length - 1];
    if (deeper && item && (BULLET.test(line) || NUMBER.test(line))) {
      let nested;
      [nested, i] = renderList(lines, i, inline);
      item.nested.push(nested);
      continue;
    }
    const m = deeper ? null : marker.exec(line);
    if (m) items.push({ text: m[1], nested: [] });
    else if (item && deeper) item.text += ` ${line.trim()}`;
    else break;
    i += 1;
  }
  const list = document.createElement(kind);
  for (const { text, nested } of items) {
    const li = renderInline(text, document.createElement("li"), inline);
    li.append(...nested);
    list.append(li);
  }
  return [list, i];
}

/** Headings sit below the page's own heading levels: "#" is an h3, "##" an h4, and so on. */
const nestedHeading = (hashes) => Math.min(6, hashes + 2);

/**
 * Render `source` into a DocumentFragment. Options:
 * - `breaks`: a single newline inside a paragraph stays a line break (chat messages) instead of
 *   a space (articles); style those paragraphs with `white-space: pre-line`.
 * - `autolink`: bare http(s) addresses become links, as [label](address) links do.
 * - `headingLevel(hashes)`: the h1-h6 level of a heading written with that many "#".
 */
export function renderMarkdown(source, { breaks = false, autolink = false, headingLevel = nestedHeading } = {}) {
  const inline = { autolink };
  const out = document.createDocumentFragment();
  const lines = String(source || "").replace(/\r\n?/g, "\n").split("\n");
  let i = 0;
  while (i < lines.length) {
    const line = lines[i];
    if (!line.trim()) {
      i += 1;
      continue;
    }
    const fence = FENCE.exec(line);
    if (fence) {
      const body = [];
      i += 1;
      while (i < lines.length && !lines[i].trim().startsWith(fence[1])) body.push(lines[i++]);
      i += 1; // closing fence (or end)
      const pre = document.createElement("pre");
      const code = document.createElement("code");
      code.textContent = body.join("\n");
      pre.append(code);
      out.append(pre);
      continue;
    }
    if (TABLE_ROW.test(line) && i + 1 < lines.length && TABLE_RULE.test(lines[i + 1])) {
      const table = document.createElement("table");
      const head = document.createElement("tr");
      for (const cell of cells(line)) {
        const th = document.createElement("th");
        th.scope = "col";
        head.append(renderInline(cell, th, inline));
      }
      table.append(document.createElement("thead"));
      table.tHead.append(head);
      const tbody = document.createElement("tbody");
      i += 2;
      while (i < lines.length && TABLE_ROW.test(lines[i])) {
        const tr = document.createElement("tr");
        for (const cell of cells(lines[i])) tr.append(renderInline(cell, document.createElement("td"), inline));
        tbody.append(tr);
        i += 1;
      }
      table.append(tbody);
      out.append(table);
      continue;
    }
    const heading = HEADING.exec(line);
    if (heading) {
      const level = headingLevel(heading[1].length);
      out.append(renderInline(heading[2], document.createElement(`h${level}`), inline));
      i += 1;
      continue;
    }
    if (BULLET.test(line) || NUMBER.test(line)) {
      let list;
      [list, i] = renderList(lines, i, inline);
      out.append(list);
      continue;
    }
    const para = [];
    while (
      i < lines.length &&
      lines[i].trim() &&
      !FENCE.test(lines[i]) &&
      !HEADING.test(lines[i]) &&
      !BULLET.test(lines[i]) &&
      !NUMBER.test(lines[i])
    ) {
      para.push(lines[i].trim());
      i += 1;
    }
    out.append(renderInline(para.join(breaks ? "\n" : " "), document.createElement("p"), inline));
  }
  return out;
}
