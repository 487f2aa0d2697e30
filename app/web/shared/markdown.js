// A small, safe Markdown renderer: builds DOM nodes (never parses HTML) for paragraphs,
// headings, bulleted and numbered lists, fenced and inline code, **bold**, *italic* / _italic_
// simple pipe tables and [links](https://...) whose target is http or https only (anything
// else stays text).

const SAFE_PROTOCOLS = new Set(["http:", "https:"]);

export function safeHref(href) {
  try {
    const url = new URL(href.trim());
    return SAFE_PROTOCOLS.has(url.protocol) ? url.href : null;
  } catch {
    return null;
  }
}

const INLINE = [
  { kind: "code", re: /`([^`\n]+)`/ },
  { kind: "link", re: /\[([^\]\n]+)\]\(([^()\s]+)\)/ },
  { kind: "strong", re: /\*\*(?=\S)([\s\S]*?\S)\*\*|__(?=\S)([\s\S]*?\S)__/ },
  { kind: "em", re: /\*(?=\S)([^*]*?\S)\*|(?<![\w])_(?=\S)([^_]*?\S)_(?![\w])/ },
];

/** Append the inline Markdown of `text` to `parent` as text nodes and elements. */
export function renderInline(text, parent, depth = 0) {
  let rest = text;
  while (rest) {
    let best = null;
    for (const rule of INLINE) {
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
        const a = document.createElement("a");
        a.href = href;
        a.rel = "noopener noreferrer nofollow";
        a.target = "_blank";
        renderInline(match[1], a, depth + 1);
        parent.append(a);
      } else {
        parent.append(document.createTextNode(match[0]));
      }
    } else {
      const el = document.createElement(rule.kind);
      renderInline(match[1] ?? match[2], el, depth + 1);
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

/** Render `source` into a DocumentFragment. With `breaks`, a single newline inside a
 * paragraph stays a line break (chat messages) instead of a space (articles); style those
 * paragraphs with `white-space: pre-line`. */
export function renderMarkdown(source, { breaks = false } = {}) {
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
        head.append(renderInline(cell, th));
      }
      table.append(document.createElement("thead"));
      table.tHead.append(head);
      const tbody = document.createElement("tbody");
      i += 2;
      while (i < lines.length && TABLE_ROW.test(lines[i])) {
        const tr = document.createElement("tr");
        for (const cell of cells(lines[i])) tr.append(renderInline(cell, document.createElement("td")));
        tbody.append(tr);
        i += 1;
      }
      table.append(tbody);
      out.append(table);
      continue;
    }
    const heading = HEADING.exec(line);
    if (heading) {
      // Headings inside an article sit below the preview's own heading level.
      const level = Math.min(6, heading[1].length + 2);
      out.append(renderInline(heading[2], document.createElement(`h${level}`)));
      i += 1;
      continue;
    }
    const listKind = BULLET.test(line) ? "ul" : NUMBER.test(line) ? "ol" : null;
    if (listKind) {
      const re = listKind === "ul" ? BULLET : NUMBER;
      const items = [];
      while (i < lines.length && lines[i].trim()) {
        const m = re.exec(lines[i]);
        if (m) items.push(m[1]);
        else if (items.length && /^\s+/.test(lines[i])) items[items.length - 1] += ` ${lines[i].trim()}`;
        else break;
        i += 1;
      }
      const list = document.createElement(listKind);
      for (const src of items) list.append(renderInline(src, document.createElement("li")));
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
    out.append(renderInline(para.join(breaks ? "\n" : " "), document.createElement("p")));
  }
  return out;
}
