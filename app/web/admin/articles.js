// Articles: the searchable list, the editor with its live Markdown preview, save with
// optimistic concurrency (`version`), delete, and version history with revert.
import { api } from "./api.js";
import { clear, field, formatDate, h, say } from "../shared/dom.js";
import { renderMarkdown } from "../shared/markdown.js";

const PAGE = 20;
const STATUSES = ["published", "draft", "archived"];

function lines(text) {
  return text
    .split("\n")
    .map((s) => s.trim())
    .filter(Boolean);
}

function tagsOf(text) {
  return text
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
}

export function initArticles(section, ctx) {
  const state = { offset: 0, total: 0, article: null, loadedOnce: false };

  // ----- list -----
  const q = h("input", { type: "search", name: "q", autocomplete: "off" });
  const tag = h("input", { type: "text", name: "tag", autocomplete: "off" });
  const status = h(
    "select",
    { name: "status" },
    h("option", { value: "" }, "Any status"),
    STATUSES.map((s) => h("option", { value: s }, s)),
  );
  const filters = h(
    "form",
    { class: "filters", role: "search", "aria-label": "Find articles" },
    field("Search", q).wrap,
    field("Tag", tag).wrap,
    field("Status", status).wrap,
    h("button", { type: "submit" }, "Search"),
    h("button", { type: "button", class: "secondary", onclick: () => editNew() }, "New article"),
  );
  filters.addEventListener("submit", (event) => {
    event.preventDefault();
    state.offset = 0;
    loadList();
  });
  status.addEventListener("change", () => {
    state.offset = 0;
    loadList();
  });

  const listMsg = h("p", { class: "notice", role: "alert", hidden: true });
  const tbody = h("tbody");
  const table = h(
    "table",
    { class: "list" },
    h("caption", { class: "visually-hidden" }, "Articles"),
    h(
      "thead",
      {},
      h(
        "tr",
        {},
        ["Title", "Status", "Tags", "Version", "Updated"].map((t) => h("th", { scope: "col" }, t)),
      ),
    ),
    tbody,
  );
  const pageInfo = h("p", { class: "page-info", "aria-live": "polite" });
  const prev = h("button", { type: "button", class: "secondary", onclick: () => page(-1) }, "Previous page");
  const next = h("button", { type: "button", class: "secondary", onclick: () => page(1) }, "Next page");
  const listPanel = h(
    "div",
    { class: "panel list-panel" },
    filters,
    listMsg,
    h("div", { class: "table-wrap" }, table),
    h("div", { class: "pager" }, prev, pageInfo, next),
  );

  function page(delta) {
    state.offset = Math.max(0, state.offset + delta * PAGE);
    loadList();
  }

  async function loadList() {
    say(listMsg, "");
    try {
      const result = await api("GET", "/api/v1/admin/kb/articles", {
        query: {
          q: q.value.trim(),
          tag: tag.value.trim().toLowerCase(),
          status: status.value,
          offset: state.offset,
          limit: PAGE,
        },
      });
      state.total = result.total;
      clear(tbody);
      if (!result.items.length) {
        tbody.append(h("tr", {}, h("td", { colspan: 5, class: "empty" }, "No articles match.")));
      }
      for (const article of result.items) {
        tbody.append(
          h(
            "tr",
            { class: state.article && state.article.id === article.id ? "current" : null },
            h(
              "td",
              {},
              h(
                "button",
                { type: "button", class: "link", onclick: () => open(article.id), dataset: { id: article.id } },
                article.title,
              ),
            ),
            h("td", {}, h("span", { class: `badge ${article.status}` }, article.status)),
            h("td", {}, article.tags.join(", ")),
            h("td", {}, String(article.version)),
            h("td", {}, formatDate(article.updated_at)),
          ),
        );
      }
      const first = result.total ? state.offset + 1 : 0;
      const last = state.offset + result.items.length;
      pageInfo.textContent = `${first}–${last} of ${result.total}`;
      prev.disabled = state.offset === 0;
      next.disabled = last >= result.total;
    } catch (error) {
      say(listMsg, error.message, "error");
    }
  }

  // ----- editor -----
  const heading = h("h2", { id: "editor-title", tabindex: "-1" }, "New article");
  const meta = h("p", { class: "meta" });
  const title = h("input", { type: "text", name: "title", required: true, maxlength: 300 });
  const body = h("textarea", { name: "body", rows: 12, required: true });
  const preview = h("div", { class: "preview", id: "article-preview" });
  const questions = h("textarea", { name: "questions", rows: 4 });
  const tags = h("input", { type: "text", name: "tags", autocomplete: "off" });
  const articleStatus = h("select", { name: "status" }, STATUSES.map((s) => h("option", { value: s }, s)));
  const editorMsg = h("p", { class: "notice", role: "alert", hidden: true });
  const saveButton = h("button", { type: "submit" }, "Save");
  const deleteButton = h("button", { type: "button", class: "danger", onclick: () => askDelete() }, "Delete");
  const confirmBox = h("div", { class: "confirm", hidden: true });
  const versionsList = h("ul", { class: "versions" });
  const versionsPanel = h(
    "section",
    { class: "panel", "aria-labelledby": "versions-title", hidden: true },
    h("h2", { id: "versions-title" }, "Version history"),
    versionsList,
  );

  body.addEventListener("input", renderPreview);
  function renderPreview() {
    preview.replaceChildren(renderMarkdown(body.value));
    if (!body.value.trim()) preview.append(h("p", { class: "empty" }, "The preview appears here."));
  }

  const editor = h(
    "form",
    { class: "panel editor", "aria-labelledby": "editor-title", novalidate: true },
    heading,
    meta,
    field("Title", title).wrap,
    h(
      "div",
      { class: "body-grid" },
      field("Body (Markdown)", body, "Paragraphs, - lists, **bold**, *italic*, `code`, [links](https://…)").wrap,
      h("div", { class: "field" }, h("h3", { class: "label", id: "preview-label" }, "Preview"), preview),
    ),
    field("Alternate questions", questions, "One per line: other ways customers ask this.").wrap,
    h(
      "div",
      { class: "row" },
      field("Tags", tags, "Separated by commas.").wrap,
      field("Status", articleStatus, "Only published articles answer customers.").wrap,
    ),
    editorMsg,
    h("div", { class: "actions" }, saveButton, deleteButton),
    confirmBox,
  );
  preview.setAttribute("aria-labelledby", "preview-label");
  preview.setAttribute("role", "region");
  preview.tabIndex = 0; // it scrolls: keyboard users must reach it
  editor.addEventListener("submit", (event) => {
    event.preventDefault();
    save();
  });

  function fill(article) {
    state.article = article;
    heading.textContent = article ? "Edit article" : "New article";
    meta.textContent = article
      ? `#${article.id} · ${article.slug} · version ${article.version} · updated ${formatDate(article.updated_at)}`
      : "Not saved yet.";
    title.value = article ? article.title : "";
    body.value = article ? article.body : "";
    questions.value = article ? article.questions.join("\n") : "";
    tags.value = article ? article.tags.join(", ") : "";
    articleStatus.value = article ? article.status : "published";
    deleteButton.hidden = !article;
    confirmBox.hidden = true;
    versionsPanel.hidden = !article;
    say(editorMsg, "");
    renderPreview();
    for (const row of tbody.querySelectorAll("tr")) {
      const button = row.querySelector("button[data-id]");
      row.classList.toggle("current", Boolean(article && button && Number(button.dataset.id) === article.id));
    }
  }

  function editNew() {
    fill(null);
    title.focus();
  }

  async function open(id) {
    say(editorMsg, "");
    try {
      fill(await api("GET", `/api/v1/admin/kb/articles/${id}`));
      loadVersions();
      heading.focus();
    } catch (error) {
      say(editorMsg, error.message, "error");
    }
  }

  function draft() {
    return {
      title: title.value,
      body: body.value,
      questions: lines(questions.value),
      tags: tagsOf(tags.value),
      status: articleStatus.value,
    };
  }

  async function save() {
    if (!title.value.trim() || !body.value.trim()) {
      say(editorMsg, "A title and a body are required.", "error");
      (title.value.trim() ? body : title).focus();
      return;
    }
    saveButton.disabled = true;
    say(editorMsg, "Saving…", "info");
    const current = state.article;
    try {
      const saved = current
        ? await api("PUT", `/api/v1/admin/kb/articles/${current.id}`, {
            body: { ...draft(), version: current.version },
            query: { wait: "true" },
          })
        : await api("POST", "/api/v1/admin/kb/articles", { body: draft(), query: { wait: "true" } });
      fill(saved);
      say(editorMsg, `Saved version ${saved.version}; it is live.`, "ok");
      ctx.toast(`Saved “${saved.title}”.`);
      loadVersions();
      loadList();
    } catch (error) {
      if (error.status === 409) {
        say(editorMsg, `${error.message} Reload the article to see the latest version, then apply your change again.`, "error");
        showReload();
      } else if (error.status === 503 && error.details.revision) {
        say(editorMsg, error.message, "info");
        if (current) open(current.id);
        loadList();
      } else {
        say(editorMsg, error.message, "error");
      }
    } finally {
      saveButton.disabled = false;
    }
  }

  function showReload() {
    clear(confirmBox);
    confirmBox.hidden = false;
    confirmBox.append(
      h("button", { type: "button", class: "secondary", onclick: () => open(state.article.id) }, "Reload latest version"),
    );
  }

  function askDelete() {
    const article = state.article;
    if (!article) return;
    clear(confirmBox);
    confirmBox.hidden = false;
    const yes = h("button", { type: "button", class: "danger", onclick: () => remove(article) }, "Yes, delete it");
    confirmBox.append(
      h("p", {}, `Delete “${article.title}”? Customers stop getting this answer at once.`),
      yes,
      h("button", { type: "button", class: "secondary", onclick: () => { confirmBox.hidden = true; deleteButton.focus(); } }, "Cancel"),
    );
    yes.focus();
  }

  async function remove(article) {
    try {
      await api("DELETE", `/api/v1/admin/kb/articles/${article.id}`, { query: { wait: "true" } });
      ctx.toast(`Deleted “${article.title}”.`);
      fill(null);
      loadList();
    } catch (error) {
      say(editorMsg, error.message, "error");
    }
  }

  async function loadVersions() {
    const article = state.article;
    if (!article) return;
    clear(versionsList);
    try {
      const versions = await api("GET", `/api/v1/admin/kb/articles/${article.id}/versions`);
      const items = Array.isArray(versions) ? versions : versions.items || [];
      if (!items.length) versionsList.append(h("li", { class: "empty" }, "No saved versions yet: this article is as loaded from its file."));
      for (const v of items) {
        const who = v.author ? v.author.name : "system";
        const isCurrent = v.version === article.version;
        versionsList.append(
          h(
            "li",
            {},
            h(
              "div",
              { class: "version-head" },
              h("strong", {}, `Version ${v.version}`),
              ` · ${v.change} · ${who} · ${formatDate(v.created_at)}`,
              isCurrent
                ? h("span", { class: "badge" }, "current")
                : h(
                    "button",
                    { type: "button", class: "secondary", onclick: () => revert(v.version) },
                    `Revert to version ${v.version}`,
                  ),
            ),
            h(
              "details",
              {},
              h("summary", {}, `Show version ${v.version}`),
              h("p", {}, h("strong", {}, "Title: "), v.title),
              h("p", {}, h("strong", {}, "Status: "), v.status),
              h("pre", { class: "version-body" }, v.body),
              v.questions.length ? h("p", {}, h("strong", {}, "Questions: "), v.questions.join(" · ")) : null,
            ),
          ),
        );
      }
    } catch (error) {
      versionsList.append(h("li", { class: "notice" }, error.message));
    }
  }

  async function revert(version) {
    const article = state.article;
    try {
      const saved = await api("POST", `/api/v1/admin/kb/articles/${article.id}/versions/${version}/revert`, {
        query: { wait: "true" },
      });
      fill(saved);
      say(editorMsg, `Reverted to version ${version} (now version ${saved.version}).`, "ok");
      loadVersions();
      loadList();
    } catch (error) {
      say(editorMsg, error.message, "error");
    }
  }

  section.append(h("div", { class: "articles-layout" }, listPanel, h("div", { class: "editor-col" }, editor, versionsPanel)));
  fill(null);

  return {
    show(first) {
      if (first && !state.loadedOnce) {
        state.loadedOnce = true;
        loadList();
      }
    },
    open,
    refresh: loadList,
  };
}
