// "Tests": run a conversation suite through the bot (against the live knowledge, or with a
// draft article as if published) and see each conversation's result and what changed since
// the suite's last run on the live knowledge. Nothing is published or stored in conversations.
import { api } from "./api.js";
import { clear, field, h, say } from "../shared/dom.js";

const PASTE = "";

function badge(passed) {
  return h("span", { class: `badge ${passed ? "pass" : "fail"}` }, passed ? "pass" : "fail");
}

function table(caption, headers, rows) {
  return h(
    "table",
    { class: "list" },
    h("caption", {}, caption),
    h("thead", {}, h("tr", {}, headers.map((t) => h("th", { scope: "col" }, t)))),
    h("tbody", {}, rows),
  );
}

export function initTests(section) {
  const suite = h("select", { name: "suite" }, h("option", { value: PASTE }, "Paste a suite below"));
  const yaml = h("textarea", { name: "yaml", rows: 10, spellcheck: "false", class: "code" });
  const name = h("input", { name: "name", type: "text", value: "pasted suite", maxlength: 200 });
  const draft = h("select", { name: "draft" }, h("option", { value: "" }, "None: the live knowledge"));
  const msg = h("div", { class: "notice", role: "alert", hidden: true });
  const result = h("div", { class: "tests-result", "aria-live": "polite" });
  const button = h("button", { type: "submit" }, "Run suite");
  const pasted = h(
    "div",
    {},
    field("Suite (YAML)", yaml, "conversations: a list of {name, category, turns: [{say, expect}]}").wrap,
    field("Name (runs are compared under it)", name).wrap,
  );
  const form = h(
    "form",
    { class: "panel", novalidate: true, "aria-label": "Run a conversation suite" },
    h(
      "p",
      {},
      "Run a suite of conversations through the bot as a customer would have them. " +
        "Nothing is stored in the live conversations and no integration is called.",
    ),
    field("Suite", suite).wrap,
    pasted,
    field("Draft article to try as if published", draft).wrap,
    msg,
    h("div", { class: "actions" }, button),
  );
  suite.addEventListener("change", () => {
    pasted.hidden = suite.value !== PASTE;
  });

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const body = suite.value === PASTE ? { yaml: yaml.value, name: name.value.trim() || "pasted suite" } : { suite: suite.value };
    if (suite.value === PASTE && !yaml.value.trim()) {
      say(msg, "Paste a suite first, or pick one from the list.", "error");
      yaml.focus();
      return;
    }
    if (draft.value) body.draft_article_id = Number(draft.value);
    say(msg, "Running the suite…");
    button.disabled = true;
    try {
      const data = await api("POST", "/api/v1/admin/tests/runs", { body });
      say(msg, "");
      show(data);
    } catch (error) {
      const problems = (error.details && error.details.problems) || [];
      say(msg, problems.length ? `${error.message}\n${problems.join("\n")}` : error.message, "error");
    } finally {
      button.disabled = false;
    }
  });

  function diffRows(items) {
    return items.map((item) =>
      h(
        "tr",
        {},
        h("td", {}, item.conversation),
        h("td", {}, String(item.turn)),
        h("td", {}, item.say),
        h("td", {}, item.before.move),
        h(
          "td",
          {},
          item.after.move,
          h(
            "details",
            {},
            h("summary", {}, "The replies"),
            h("p", {}, h("strong", {}, "Before: "), item.before.text || "(not run)"),
            h("p", {}, h("strong", {}, "Now: "), item.after.text || "(not run)"),
          ),
        ),
      ),
    );
  }

  function showDiff(diff, run) {
    const panel = h("section", { class: "panel", "aria-labelledby": "tests-diff-title" }, h("h2", { id: "tests-diff-title" }, "Changes since the last run"));
    if (!diff.against) {
      panel.append(h("p", {}, "This is the suite's first run on the live knowledge: the next run is compared with it."));
      return panel;
    }
    const against = run.draft ? `with “${run.draft.title}” as if published, compared with` : "compared with";
    panel.append(h("p", {}, `This run ${against} the run of ${diff.against.started_at} (knowledge revision ${diff.against.knowledge_revision}).`));
    const headers = ["Conversation", "Turn", "Customer said", "Before", "Now"];
    const groups = [
      ["Now passing", diff.fixed],
      ["Now failing", diff.broken],
      ["Answered differently", diff.changed],
    ];
    let any = false;
    for (const [caption, items] of groups) {
      if (!items.length) continue;
      any = true;
      panel.append(table(`${caption} (${items.length})`, headers, diffRows(items)));
    }
    if (diff.added.length) panel.append(h("p", {}, `New conversations: ${diff.added.join(", ")}`));
    if (diff.removed.length) panel.append(h("p", {}, `Conversations no longer in the suite: ${diff.removed.join(", ")}`));
    if (!any) panel.append(h("p", {}, "No turn changed."));
    return panel;
  }

  function show(data) {
    clear(result);
    const run = data.run;
    const total = run.summary;
    const summary = h(
      "section",
      { class: "panel", "aria-labelledby": "tests-run-title" },
      h("h2", { id: "tests-run-title" }, `${run.suite}: ${total.passed} of ${total.conversations} conversations passed`),
      h("p", {}, `${total.turns_passed} of ${total.turns} turns passed, in ${run.seconds} s${run.draft ? `, with the draft “${run.draft.title}” as if published` : ""}.`),
      table(
        "By category",
        ["Category", "Conversations passed", "Turns passed"],
        Object.entries(run.by_category).map(([category, row]) =>
          h("tr", {}, h("td", {}, category), h("td", {}, `${row.passed} / ${row.conversations}`), h("td", {}, `${row.turns_passed} / ${row.turns}`)),
        ),
      ),
    );
    const rows = [];
    for (const conversation of run.conversations) {
      const failed = conversation.turns.filter((t) => !t.passed);
      const passedTurns = conversation.turns.length - failed.length;
      const reasons = failed.length
        ? h(
            "ul",
            { class: "failures" },
            failed.flatMap((t) => t.failures.map((reason) => h("li", {}, `Turn ${t.turn} (“${t.say}”): ${reason}`))),
          )
        : null;
      rows.push(
        h(
          "tr",
          {},
          h("td", {}, badge(conversation.passed)),
          h("td", {}, conversation.category),
          h("td", {}, `${passedTurns} / ${conversation.turns.length}`),
          h("td", {}, conversation.name, reasons),
        ),
      );
    }
    const conversations = h(
      "section",
      { class: "panel", "aria-labelledby": "tests-conversations-title" },
      h("h2", { id: "tests-conversations-title" }, "Conversations"),
      table("Each conversation, with the reason for each failed turn", ["Result", "Category", "Turns passed", "Conversation"], rows),
    );
    result.append(summary, showDiff(data.diff, run), conversations);
  }

  async function load() {
    try {
      const [suites, drafts] = await Promise.all([
        api("GET", "/api/v1/admin/tests/suites"),
        api("GET", "/api/v1/admin/kb/articles", { query: { status: "draft", limit: 200 } }),
      ]);
      const current = suite.value;
      suite.replaceChildren(
        h("option", { value: PASTE }, "Paste a suite below"),
        ...suites.suites.map((s) => h("option", { value: s }, s)),
      );
      if (suites.suites.includes(current)) suite.value = current;
      else if (suites.suites.length) suite.value = suites.suites[0];
      pasted.hidden = suite.value !== PASTE;
      const chosen = draft.value;
      draft.replaceChildren(
        h("option", { value: "" }, "None: the live knowledge"),
        ...drafts.items.map((a) => h("option", { value: String(a.id) }, a.title)),
      );
      if ([...draft.options].some((o) => o.value === chosen)) draft.value = chosen;
    } catch (error) {
      say(msg, error.message, "error");
    }
  }

  section.append(form, result);
  return { show: load };
}
