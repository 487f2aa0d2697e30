// The admin dashboard: figures from GET /api/v1/admin/analytics/summary and a CSV download of
// GET /api/v1/admin/analytics/conversations.csv. Rendered with DOM methods only: every string
// from the server goes in as text, never as HTML. Bars are decorative (aria-hidden); each one
// sits beside its number in an ordinary table, so screen readers get the figures as text.
// The figures are fetched again each time the section is shown, so they are never stale.
import { api } from "./api.js";
import { h } from "../shared/dom.js";

const SUMMARY = "/api/v1/admin/analytics/summary";
const CSV = "/api/v1/admin/analytics/conversations.csv";

const REASONS = {
  explicit_request: "Customer asked for a person",
  low_confidence: "Bot not confident enough",
  negative_sentiment: "Customer upset",
  repeated_fallback: "Bot missed repeatedly",
  intent_requires_human: "Topic needs a person",
  action_failed: "Order system call failed",
  action_outcome_unknown: "Order system call outcome unknown",
};

const CSS = `
.dash-controls { display: flex; flex-wrap: wrap; gap: 0 0.75rem; align-items: end; }
.dash-controls .field { flex: 0 1 11rem; }
.dash-controls .actions { margin-bottom: 0.8rem; }
.dash-controls input[type="date"] { font: inherit; padding: 0.4rem 0.5rem; border: 1px solid #7d8794; border-radius: 6px; background: #fff; color: inherit; }
.dash-kpis { display: grid; grid-template-columns: repeat(auto-fit, minmax(11rem, 1fr)); gap: 0.75rem; margin: 0 0 1rem; padding: 0; }
.dash-kpi { background: #fff; border: 1px solid #d0d5dc; border-radius: 8px; padding: 0.75rem 1rem; margin: 0; }
.dash-kpi dt { font-size: 0.9rem; color: #4a5563; font-weight: 600; }
.dash-kpi dd { margin: 0.2rem 0 0; font-size: 1.6rem; font-weight: 700; color: #1d232b; }
.dash-kpi .dash-sub { display: block; font-size: 0.85rem; font-weight: 400; color: #4a5563; }
.dash-grid { display: grid; grid-template-columns: repeat(auto-fit, minmax(min(100%, 26rem), 1fr)); gap: 1rem; }
.dash-grid > section, .dash-wide { background: #fff; border: 1px solid #d0d5dc; border-radius: 8px; padding: 0.75rem 1rem; margin-bottom: 1rem; min-width: 0; }
.dash-grid > section { margin-bottom: 0; }
.dash-wide { margin-top: 1rem; }
.dash-scroll { max-height: 24rem; overflow: auto; }
.dash-scroll:focus-visible, .dash-table-wrap:focus-visible { outline: 3px solid #f0a500; outline-offset: 2px; }
.dash-table-wrap { overflow-x: auto; }
.dash-vh { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; }
.dash-table { width: 100%; border-collapse: collapse; font-size: 0.93rem; }
.dash-table caption { text-align: left; font-weight: 600; padding: 0 0 0.5rem; }
.dash-table th, .dash-table td { text-align: left; padding: 0.35rem 0.5rem; border-bottom: 1px solid #d0d5dc; vertical-align: middle; }
.dash-table thead th { background: #eef0f3; position: sticky; top: 0; }
.dash-table td.num, .dash-table th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
.dash-bar-cell { width: 45%; min-width: 6rem; }
.dash-bar { display: block; height: 0.8rem; border-radius: 3px; background: #1f5fbf; min-width: 1px; }
.dash-bar.alt { background: #a8231c; }
.dash-bar.ok { background: #1d6b3a; }
.dash-bar.zero { background: transparent; }
.dash-stack { display: flex; height: 0.8rem; border-radius: 3px; overflow: hidden; background: #eef0f3; }
.dash-legend { display: flex; flex-wrap: wrap; gap: 1rem; font-size: 0.85rem; color: #4a5563; margin: 0 0 0.5rem; padding: 0; list-style: none; }
.dash-swatch { display: inline-block; width: 0.8rem; height: 0.8rem; border-radius: 2px; margin-right: 0.3rem; vertical-align: -0.1rem; }
`;

// A constructed style sheet, not a <style> element: the console's CSP allows no inline style.
let sheet = null;
function ensureStyle() {
  if (sheet) return;
  sheet = new CSSStyleSheet();
  sheet.replaceSync(CSS);
  document.adoptedStyleSheets = [...document.adoptedStyleSheets, sheet];
}

// -- formatting --------------------------------------------------------------------------------

const NONE = "n/a";

function percent(rate) {
  return rate === null || rate === undefined ? NONE : `${Math.round(rate * 1000) / 10}%`;
}

function count(value) {
  return Number(value || 0).toLocaleString();
}

function plural(value, noun) {
  return `${count(value)} ${noun}${value === 1 ? "" : "s"}`;
}

function duration(seconds) {
  if (seconds === null || seconds === undefined) return NONE;
  if (seconds > 0 && seconds < 1) return "under 1 s";
  const s = Math.round(seconds);
  if (s < 60) return `${s} s`;
  if (s < 3600) {
    const rest = s % 60;
    return rest ? `${Math.floor(s / 60)} min ${rest} s` : `${s / 60} min`;
  }
  if (s < 86400) {
    const minutes = Math.round((s % 3600) / 60);
    return minutes ? `${Math.floor(s / 3600)} h ${minutes} min` : `${Math.floor(s / 3600)} h`;
  }
  const hours = Math.round((s % 86400) / 3600);
  return hours ? `${Math.floor(s / 86400)} d ${hours} h` : `${Math.floor(s / 86400)} d`;
}

function average(value) {
  return value === null || value === undefined ? NONE : `${value.toFixed(2)} / 5`;
}

function reasonLabel(reason) {
  return REASONS[reason] || String(reason).replace(/_/g, " ");
}

function isoDay(date) {
  return date.toISOString().slice(0, 10);
}

// -- building blocks ---------------------------------------------------------------------------

/** A decorative bar `value / max` wide (the number is in the next cell as text). */
function bar(value, max, kind = "") {
  const width = max > 0 ? Math.max(0, Math.min(100, (value / max) * 100)) : 0;
  const span = h("span", { class: `dash-bar ${kind} ${width === 0 ? "zero" : ""}`.trim(), "aria-hidden": "true" });
  span.style.width = `${width}%`;
  return span;
}

/**
 * A table: `columns` are [{label, num?}], `rows` arrays of cells (a cell is a string, a number
 * or a Node). The first cell of each row is a row header.
 */
function table(caption, columns, rows, { empty = "Nothing in this range.", wrap = true } = {}) {
  if (!rows.length) {
    return h("div", {}, h("h2", {}, caption), h("p", { class: "empty" }, empty));
  }
  const head = h(
    "tr",
    {},
    columns.map((c) =>
      h("th", { scope: "col", class: c.num ? "num" : null }, c.label || h("span", { class: "dash-vh" }, "Bar chart")),
    ),
  );
  const body = rows.map((cells) =>
    h(
      "tr",
      {},
      cells.map((cell, i) => {
        const column = columns[i] || {};
        const attrs = { class: column.num ? "num" : column.bar ? "dash-bar-cell" : null };
        return i === 0 ? h("th", { scope: "row", ...attrs }, cell) : h("td", attrs, cell);
      }),
    ),
  );
  const tableEl = h("table", { class: "dash-table" }, h("caption", {}, caption), h("thead", {}, head), h("tbody", {}, body));
  if (!wrap) return tableEl;
  // Wide tables scroll sideways on small screens: the region takes focus so the keyboard can too.
  return h("div", { class: "dash-table-wrap", tabindex: "0", role: "region", "aria-label": caption }, tableEl);
}

function kpi(label, value, sub) {
  return h("div", { class: "dash-kpi" }, h("dt", {}, label), h("dd", {}, value, sub ? h("span", { class: "dash-sub" }, sub) : null));
}

// -- sections ----------------------------------------------------------------------------------

function renderKpis(data) {
  const c = data.conversations;
  const csat = data.csat;
  const fr = data.first_response;
  const res = data.resolution.handled;
  return h(
    "dl",
    { class: "dash-kpis", "aria-label": "Key figures" },
    kpi("Conversations", count(c.total), `${count(c.engaged)} with a customer message`),
    kpi("Containment rate", percent(c.containment_rate), `${count(c.contained)} never handed to a person`),
    kpi("Handoff rate", percent(c.handoff_rate), `${count(c.handed_off)} handed to a person`),
    kpi("CSAT average", average(csat.average), `${plural(csat.count, "rating")}, ${percent(csat.response_rate)} response rate`),
    kpi("First response (median)", duration(fr.median_seconds), `90th percentile ${duration(fr.p90_seconds)}`),
    kpi("Resolution time (median)", duration(res.median_seconds), `90th percentile ${duration(res.p90_seconds)}`),
  );
}

function renderPerDay(data) {
  const max = Math.max(0, ...data.per_day.map((d) => d.conversations));
  const rows = data.per_day
    .slice()
    .reverse()
    .map((d) => {
      const contained = d.engaged - d.handed_off;
      const stack = h("div", { class: "dash-stack", "aria-hidden": "true" });
      for (const [value, kind] of [
        [contained, "ok"],
        [d.handed_off, "alt"],
        [d.conversations - d.engaged, ""],
      ]) {
        const part = h("span", { class: `dash-bar ${kind}` });
        part.style.width = max ? `${(value / max) * 100}%` : "0";
        part.style.borderRadius = "0";
        part.style.minWidth = "0";
        if (kind === "") part.style.background = "#7d8794";
        stack.append(part);
      }
      return [d.date, count(d.conversations), count(d.handed_off), stack];
    });
  const legend = h(
    "ul",
    { class: "dash-legend", "aria-hidden": "true" },
    [
      ["#1d6b3a", "Contained"],
      ["#a8231c", "Handed off"],
      ["#7d8794", "No customer message"],
    ].map(([colour, label]) => {
      const swatch = h("span", { class: "dash-swatch" });
      swatch.style.background = colour;
      return h("li", {}, swatch, label);
    }),
  );
  const wrap = h(
    "div",
    { class: "dash-scroll", tabindex: "0", role: "region", "aria-label": "Conversations per day, newest first" },
    table(
      "Conversations per day (newest first)",
      [{ label: "Day" }, { label: "Conversations", num: true }, { label: "Handed off", num: true }, { label: "Share", bar: true }],
      rows,
      { wrap: false },
    ),
  );
  return h("section", { class: "dash-wide" }, legend, wrap);
}

function renderHandoffs(data) {
  const reasons = data.handoffs.by_reason;
  const max = Math.max(0, ...reasons.map((r) => r.count));
  return h("section", {},
    table(
      `Handoffs by reason (${count(data.handoffs.total)} in all)`,
      [{ label: "Reason" }, { label: "Handoffs", num: true }, { label: "Share", num: true }, { label: "", bar: true }],
      reasons.map((r) => [reasonLabel(r.reason), count(r.count), percent(r.share), bar(r.count, max, "alt")]),
      { empty: "No handoffs in this range." },
    ),
  );
}

function renderCsat(data) {
  const dist = data.csat.distribution.slice().reverse();
  const max = Math.max(0, ...dist.map((d) => d.count));
  return h("section", {},
    table(
      `Ratings (${count(data.csat.count)} for ${count(data.csat.resolutions)} resolution${data.csat.resolutions === 1 ? "" : "s"})`,
      [{ label: "Score" }, { label: "Ratings", num: true }, { label: "", bar: true }],
      data.csat.count ? dist.map((d) => [`${d.score} of 5`, count(d.count), bar(d.count, max, d.score >= 4 ? "ok" : d.score <= 2 ? "alt" : "")]) : [],
      { empty: "No ratings in this range." },
    ),
  );
}

function renderIntents(data) {
  return h("section", {},
    table(
      "Top intents and their containment",
      [{ label: "Intent" }, { label: "Conversations", num: true }, { label: "Replies", num: true }, { label: "Contained", num: true }, { label: "", bar: true }],
      data.intents.map((i) => [
        i.intent,
        count(i.conversations),
        count(i.turns),
        percent(i.containment_rate),
        bar(i.containment_rate || 0, 1, "ok"),
      ]),
      { empty: "The bot worked on no intent in this range." },
    ),
  );
}

function renderAgents(data) {
  const rows = data.agents.map((a) => [
    a.name,
    count(a.assignments),
    duration(a.first_response.median_seconds),
    duration(a.first_response.p90_seconds),
    count(a.first_response.unanswered),
    count(a.resolutions),
    duration(a.resolution.median_seconds),
    duration(a.resolution.p90_seconds),
    a.csat_count ? `${average(a.csat_average)} (${count(a.csat_count)})` : NONE,
  ]);
  const fr = data.first_response;
  const handled = data.resolution.handled;
  const since = data.resolution.since_handoff;
  const summary = h(
    "p",
    { class: "meta" },
    `All agents: first response median ${duration(fr.median_seconds)}, 90th percentile ${duration(fr.p90_seconds)} ` +
      `(${count(fr.count)} answered, ${count(fr.unanswered)} unanswered). Resolution after assignment median ` +
      `${duration(handled.median_seconds)}, 90th percentile ${duration(handled.p90_seconds)}; after handoff median ` +
      `${duration(since.median_seconds)}, 90th percentile ${duration(since.p90_seconds)}.`,
  );
  return h("section", { class: "dash-wide" },
    table(
      "Agents",
      [
        { label: "Agent" },
        { label: "Assigned", num: true },
        { label: "First response, median", num: true },
        { label: "First response, 90th pct.", num: true },
        { label: "Unanswered", num: true },
        { label: "Resolved", num: true },
        { label: "Resolution, median", num: true },
        { label: "Resolution, 90th pct.", num: true },
        { label: "CSAT (ratings)", num: true },
      ],
      rows,
      { empty: "No agent activity in this range." },
    ),
    summary,
  );
}

function renderFigures(data) {
  return [
    renderKpis(data),
    renderPerDay(data),
    h("div", { class: "dash-grid" }, renderHandoffs(data), renderCsat(data), renderIntents(data)),
    renderAgents(data),
  ];
}

// -- the view ----------------------------------------------------------------------------------

function rangeQuery(from, to) {
  const params = new URLSearchParams();
  if (from) params.set("from", from);
  if (to) params.set("to", to);
  const query = params.toString();
  return query ? `?${query}` : "";
}

function errorMessage(error) {
  return (error && error.message) || "the request failed";
}

async function downloadCsv(get, from, to) {
  const text = await get(`${CSV}${rangeQuery(from, to)}`);
  const blob = new Blob([text], { type: "text/csv" });
  const url = URL.createObjectURL(blob);
  const link = h("a", { href: url, download: `switchboard-conversations-${from || "start"}-to-${to || "today"}.csv`, hidden: true });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

/** Build the dashboard's controls in `container`; returns `load()`, which fetches and shows the
 * figures for the chosen range. `get(path)` resolves with the parsed JSON (or the CSV text). */
function renderDashboard(container, get) {
  ensureStyle();
  const previous = container.querySelector(":scope > .dash-root");
  if (previous) previous.remove();
  const root = h("div", { class: "dash-root" });
  container.append(root);

  const uid = Math.random().toString(36).slice(2, 8);
  const today = new Date();
  const fromInput = h("input", { type: "date", id: `dash-from-${uid}`, name: "from", max: isoDay(today) });
  const toInput = h("input", { type: "date", id: `dash-to-${uid}`, name: "to", max: isoDay(today) });
  const status = h("p", { class: "notice", role: "status", "aria-live": "polite", hidden: true });
  const alert = h("p", { class: "notice", "data-kind": "error", role: "alert", hidden: true });
  const figures = h("div", { "aria-busy": "false" });
  const showButton = h("button", { type: "submit" }, "Show");
  const csvButton = h("button", { type: "button", class: "secondary" }, "Download CSV");

  function say(region, message) {
    region.textContent = message || "";
    region.hidden = !message;
  }

  function checkRange() {
    if (fromInput.value && toInput.value && fromInput.value > toInput.value) {
      say(alert, "The start day is after the end day; pick an earlier start.");
      fromInput.setAttribute("aria-invalid", "true");
      fromInput.focus();
      return false;
    }
    fromInput.removeAttribute("aria-invalid");
    return true;
  }

  async function load() {
    say(alert, "");
    if (!checkRange()) return;
    say(status, "Loading the figures…");
    figures.setAttribute("aria-busy", "true");
    showButton.disabled = true;
    try {
      const data = await get(`${SUMMARY}${rangeQuery(fromInput.value, toInput.value)}`);
      fromInput.value = data.start;
      toInput.value = data.end;
      figures.replaceChildren(...renderFigures(data));
      say(status, `Showing ${data.start} to ${data.end} (${data.days} days, UTC).`);
    } catch (error) {
      say(status, "");
      say(alert, `Could not load the dashboard: ${errorMessage(error)}`);
    } finally {
      figures.setAttribute("aria-busy", "false");
      showButton.disabled = false;
    }
  }

  csvButton.addEventListener("click", async () => {
    say(alert, "");
    if (!checkRange()) return;
    csvButton.disabled = true;
    say(status, "Preparing the CSV…");
    try {
      await downloadCsv(get, fromInput.value, toInput.value);
      say(status, "The CSV was downloaded.");
    } catch (error) {
      say(status, "");
      say(alert, `Could not download the CSV: ${errorMessage(error)}`);
    } finally {
      csvButton.disabled = false;
    }
  });

  const form = h(
    "form",
    { class: "dash-controls", "aria-label": "Date range", novalidate: true },
    h("div", { class: "field" }, h("label", { for: fromInput.id }, "From (UTC day)"), fromInput),
    h("div", { class: "field" }, h("label", { for: toInput.id }, "To (UTC day)"), toInput),
    h("div", { class: "actions" }, showButton, csvButton),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    load();
  });
  root.append(
    form,
    h("p", { class: "hint" }, "At most 366 days; by default the last 30. The CSV has one row per conversation started in the range."),
    status,
    alert,
    figures,
  );
  return load;
}

/** The admin console's dashboard section: `show()` (re)loads the figures. */
export function initDashboard(section) {
  const load = renderDashboard(section, (path) => api("GET", path));
  return { show: () => load() };
}
