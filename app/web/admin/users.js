// Users and roles: the staff list, new accounts, deactivation, resetting a second factor.
import { api } from "./api.js";
import { clear, field, formatDate, h, say } from "../shared/dom.js";

export function initUsers(section, ctx) {
  const msg = h("p", { class: "notice", role: "alert", hidden: true });
  const tbody = h("tbody");
  const table = h(
    "table",
    { class: "list" },
    h("caption", { class: "visually-hidden" }, "Staff accounts"),
    h(
      "thead",
      {},
      h("tr", {}, ["Name", "Email", "Role", "State", "Presence", "Last seen", "Actions"].map((t) => h("th", { scope: "col" }, t))),
    ),
    tbody,
  );

  async function load() {
    say(msg, "");
    try {
      const users = await api("GET", "/api/v1/admin/users");
      clear(tbody);
      for (const user of users) tbody.append(row(user));
    } catch (error) {
      say(msg, error.message, "error");
    }
  }

  function row(user) {
    const actions = h("td", {});
    if (user.active && user.id !== ctx.user.id) {
      const ask = h("button", { type: "button", class: "danger" }, "Deactivate");
      ask.setAttribute("aria-label", `Deactivate ${user.name}`);
      ask.addEventListener("click", () => {
        const yes = h("button", { type: "button", class: "danger" }, `Yes, deactivate ${user.name}`);
        const no = h("button", { type: "button", class: "secondary" }, "Cancel");
        yes.addEventListener("click", async () => {
          try {
            await api("POST", `/api/v1/admin/users/${user.id}/deactivate`);
            ctx.toast(`${user.name} is deactivated.`);
            load();
          } catch (error) {
            say(msg, error.message, "error");
          }
        });
        no.addEventListener("click", () => {
          actions.replaceChildren(ask);
          ask.focus();
        });
        actions.replaceChildren(yes, no);
        yes.focus();
      });
      actions.append(ask);
    } else if (user.id === ctx.user.id) {
      actions.append("you");
    }
    if (user.totp_enabled) {
      const reset = h("button", { type: "button", class: "secondary" }, "Reset two-step");
      reset.setAttribute("aria-label", `Reset ${user.name}'s two-step sign-in`);
      reset.addEventListener("click", async () => {
        try {
          await api("POST", `/api/v1/admin/users/${user.id}/totp/reset`);
          ctx.toast(`${user.name} signs in with the password alone until they enrol again.`);
          load();
        } catch (error) {
          say(msg, error.message, "error");
        }
      });
      actions.append(" ", reset);
    }
    return h(
      "tr",
      {},
      h("td", {}, user.name),
      h("td", {}, user.email),
      h("td", {}, user.role),
      h(
        "td",
        {},
        h("span", { class: `badge ${user.active ? "published" : "archived"}` }, user.active ? "active" : "deactivated"),
        user.totp_enabled ? [" ", h("span", { class: "badge" }, "two-step")] : null,
      ),
      h("td", {}, user.presence || ""),
      h("td", {}, formatDate(user.last_seen_at) || "never"),
      actions,
    );
  }

  // ----- new account -----
  const name = h("input", { type: "text", name: "name", required: true, maxlength: 100, autocomplete: "off" });
  const email = h("input", { type: "email", name: "email", required: true, autocomplete: "off" });
  const password = h("input", { type: "password", name: "password", required: true, autocomplete: "new-password" });
  const role = h("select", { name: "role" }, h("option", { value: "agent" }, "agent"), h("option", { value: "admin" }, "admin"));
  const formMsg = h("p", { class: "notice", role: "alert", hidden: true });
  const form = h(
    "form",
    { class: "panel", "aria-labelledby": "new-user-title", novalidate: true },
    h("h2", { id: "new-user-title" }, "Add a staff account"),
    h(
      "div",
      { class: "row" },
      field("Name", name).wrap,
      field("Email", email).wrap,
      field("Password", password, "At least 8 characters.").wrap,
      field("Role", role, "Agents work conversations; admins also manage the console.").wrap,
    ),
    formMsg,
    h("div", { class: "actions" }, h("button", { type: "submit" }, "Add account")),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      const user = await api("POST", "/api/v1/admin/users", {
        body: { name: name.value, email: email.value, password: password.value, role: role.value },
      });
      say(formMsg, `Added ${user.name} (${user.role}).`, "ok");
      form.reset();
      load();
    } catch (error) {
      say(formMsg, error.message, "error");
    }
  });

  section.append(
    msg,
    h("section", { class: "panel", "aria-labelledby": "staff-title" }, h("h2", { id: "staff-title" }, "Staff"), h("div", { class: "table-wrap" }, table)),
    form,
  );
  return {
    show() {
      load();
    },
  };
}
