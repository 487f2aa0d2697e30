// Import (JSON, CSV or a Markdown zip; all or nothing, every bad row listed) and export.
import { api } from "./api.js";
import { clear, field, h, say } from "../shared/dom.js";

const TYPES = { json: "application/json", csv: "text/csv", zip: "application/zip" };

function formatOf(name) {
  const ext = (name.split(".").pop() || "").toLowerCase();
  return TYPES[ext] ? ext : null;
}

function where(problem) {
  if (problem.row !== undefined) return `Row ${problem.row}`;
  if (problem.file !== undefined) return `File ${problem.file}`;
  return "—";
}

export function initTransfer(section, ctx) {
  // ----- import -----
  const file = h("input", { type: "file", name: "file", accept: ".json,.csv,.zip,application/json,text/csv,application/zip" });
  const dryRun = h("input", { type: "checkbox", name: "dry_run", id: "import-dry-run" });
  const msg = h("p", { class: "notice", role: "alert", hidden: true });
  const problems = h("div", { class: "problems" });
  const button = h("button", { type: "submit" }, "Import");
  const form = h(
    "form",
    { class: "panel", "aria-labelledby": "import-title", novalidate: true },
    h("h2", { id: "import-title" }, "Import articles"),
    h(
      "p",
      {},
      "A JSON file {\"articles\": [...]}, a CSV file (title, body, questions, tags, status, slug; lists separated by |) " +
        "or a zip of Markdown files. Everything is checked first: nothing is imported if any row is invalid. " +
        "Articles whose slug exists are updated.",
    ),
    field("File (.json, .csv or .zip)", file).wrap,
    h("div", { class: "check" }, dryRun, h("label", { for: "import-dry-run" }, "Only check the file (dry run)")),
    msg,
    h("div", { class: "actions" }, button),
    problems,
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clear(problems);
    const chosen = file.files && file.files[0];
    if (!chosen) {
      say(msg, "Choose a file to import.", "error");
      file.focus();
      return;
    }
    const format = formatOf(chosen.name);
    if (!format) {
      say(msg, "The file must end in .json, .csv or .zip.", "error");
      return;
    }
    button.disabled = true;
    say(msg, "Importing…", "info");
    try {
      const data = await chosen.arrayBuffer();
      const result = await api("POST", "/api/v1/admin/kb/import", {
        raw: { data, type: TYPES[format] },
        query: { format, dry_run: dryRun.checked ? "true" : null, wait: dryRun.checked ? null : "true" },
      });
      const counts = `${result.created} new, ${result.updated} updated, ${result.unchanged} unchanged`;
      say(msg, result.dry_run ? `The file is valid: it would give ${counts}.` : `Imported: ${counts}. It is live.`, "ok");
      if (!result.dry_run) ctx.toast(`Imported ${chosen.name}.`);
    } catch (error) {
      say(msg, error.message, "error");
      const fields = error.details && error.details.fields;
      if (Array.isArray(fields) && fields.length) showProblems(fields, error.details.truncated);
    } finally {
      button.disabled = false;
    }
  });

  function showProblems(fields, truncated) {
    const tbody = h("tbody");
    for (const p of fields) {
      tbody.append(h("tr", {}, h("td", {}, where(p)), h("td", {}, p.field || ""), h("td", {}, p.message || "")));
    }
    problems.append(
      h(
        "table",
        { class: "list" },
        h("caption", {}, truncated ? "Problems found (the first ones)" : "Problems found"),
        h("thead", {}, h("tr", {}, ["Where", "Field", "Problem"].map((t) => h("th", { scope: "col" }, t)))),
        tbody,
      ),
    );
  }

  // ----- export -----
  const exportMsg = h("p", { class: "notice", role: "alert", hidden: true });
  async function download(format) {
    say(exportMsg, "");
    try {
      const response = await api("GET", "/api/v1/admin/kb/export", { query: { format }, asResponse: true });
      const blob = await response.blob();
      const disposition = response.headers.get("Content-Disposition") || "";
      const match = /filename="([^"]+)"/.exec(disposition);
      const link = h("a", { href: URL.createObjectURL(blob), download: match ? match[1] : `switchboard-kb.${format}` });
      document.body.append(link);
      link.click();
      link.remove();
      setTimeout(() => URL.revokeObjectURL(link.href), 10_000);
    } catch (error) {
      say(exportMsg, error.message, "error");
    }
  }
  const exporter = h(
    "section",
    { class: "panel", "aria-labelledby": "export-title" },
    h("h2", { id: "export-title" }, "Export articles"),
    h("p", {}, "Every article, in a file the import reads back."),
    h(
      "div",
      { class: "actions" },
      h("button", { type: "button", class: "secondary", onclick: () => download("json") }, "Export JSON"),
      h("button", { type: "button", class: "secondary", onclick: () => download("csv") }, "Export CSV"),
      h("button", { type: "button", class: "secondary", onclick: () => download("zip") }, "Export Markdown zip"),
    ),
    exportMsg,
  );

  section.append(form, exporter);
  return { show() {} };
}
