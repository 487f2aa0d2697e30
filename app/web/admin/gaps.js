// Knowledge gaps: what customers asked that the bot could not answer, clustered; one click
// turns a cluster into a draft article.
import { api } from "./api.js";
import { clear, formatDate, h, say } from "../shared/dom.js";

export function initGaps(section, ctx) {
  const msg = h("p", { class: "notice", role: "alert", hidden: true });
  const summary = h("p", { class: "meta", "aria-live": "polite" });
  const list = h("div", { class: "gap-list" });
  const refresh = h("button", { type: "button", class: "secondary", onclick: () => load() }, "Refresh");
  let report = null;

  async function load() {
    say(msg, "");
    summary.textContent = "Loading…";
    try {
      report = await api("GET", "/api/v1/admin/insights/gaps");
      render();
    } catch (error) {
      summary.textContent = "";
      say(msg, error.message, "error");
    }
  }

  function render() {
    clear(list);
    summary.textContent =
      `${report.questions} unanswered questions in the last ${report.days} days, ` +
      `${report.total_clusters} ${report.total_clusters === 1 ? "group" : "groups"} of at least ${report.min_size}.`;
    if (!report.clusters.length) {
      list.append(h("p", { class: "empty" }, "No knowledge gaps: the bot answered what customers asked."));
      return;
    }
    for (const cluster of report.clusters) list.append(card(cluster));
  }

  function card(cluster) {
    const titleId = `gap-${cluster.id}`;
    const status = h("p", { class: "notice", role: "status", hidden: true });
    const reasons = Object.entries(cluster.reasons || {})
      .map(([k, v]) => `${k} × ${v}`)
      .join(", ");
    const closest = cluster.closest_article;
    const draftButton = h("button", { type: "button" }, "Create draft from this cluster");
    draftButton.addEventListener("click", async () => {
      draftButton.disabled = true;
      try {
        const article = await api("POST", `/api/v1/admin/insights/gaps/${encodeURIComponent(cluster.id)}/draft`, {
          query: { days: report.days, min_size: report.min_size },
        });
        ctx.toast(`Draft “${article.title}” created.`);
        ctx.openArticle(article.id);
      } catch (error) {
        say(status, error.message, "error");
        draftButton.disabled = false;
      }
    });
    return h(
      "article",
      { class: "panel gap", "aria-labelledby": titleId },
      h("h2", { id: titleId }, cluster.examples[0] || "(no example)"),
      h(
        "p",
        { class: "meta" },
        `${cluster.count} questions from ${cluster.conversations} conversations · ` +
          `last asked ${formatDate(cluster.last_seen)}`,
      ),
      h("ul", { class: "examples", "aria-label": "Examples" }, cluster.examples.map((e) => h("li", {}, e))),
      h("p", {}, h("strong", {}, "How the bot replied: "), reasons || "—"),
      h(
        "p",
        {},
        h("strong", {}, "Closest article: "),
        closest
          ? [
              h("button", { type: "button", class: "link", onclick: () => ctx.openArticle(closest.article_id) }, closest.title),
              ` (score ${closest.score.toFixed(2)})`,
            ]
          : "none",
        cluster.covered ? h("span", { class: "badge published" }, "now covered") : null,
      ),
      cluster.held_by
        ? h(
            "p",
            {},
            h("strong", {}, "Already in: "),
            h("button", { type: "button", class: "link", onclick: () => ctx.openArticle(cluster.held_by.article_id) }, cluster.held_by.title),
            ` (${cluster.held_by.status})`,
          )
        : h("div", { class: "actions" }, draftButton),
      status,
    );
  }

  section.append(h("div", { class: "toolbar" }, summary, refresh), msg, list);
  return {
    show() {
      load();
    },
  };
}
