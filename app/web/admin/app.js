// The admin console: sign-in, section navigation, and the sections' modules.
import { api, getToken, setToken, setUnauthorizedHandler } from "./api.js";
import { $, say } from "../shared/dom.js";
import { initArticles } from "./articles.js";
import { initTransfer } from "./transfer.js";
import { initTry } from "./try.js";
import { initTests } from "./tests.js";
import { initGaps } from "./gaps.js";
import { initUsers } from "./users.js";
import { initDashboard } from "./dashboard.js";
import { askForCode, CODE_PROMPT, codeOf, showEnrolment } from "../shared/second_factor.js";

const VIEWS = ["articles", "transfer", "try", "tests", "gaps", "users", "dashboard"];

const state = { user: null, modules: {}, shown: new Set() };

/** A short message in the polite live region at the bottom of the page. */
export function toast(message) {
  const el = $("toast");
  el.textContent = message;
  el.classList.add("visible");
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => el.classList.remove("visible"), 5000);
}

function showLogin(message) {
  state.user = null;
  $("second-factor").hidden = true;
  $("console").hidden = true;
  $("who").hidden = true;
  $("login").hidden = false;
  say($("login-error"), message || "", "error");
  $("login-email").focus();
}

function route() {
  if (!state.user) return;
  let name = window.location.hash.slice(1);
  if (!VIEWS.includes(name)) name = "articles";
  for (const view of VIEWS) {
    const section = $(view);
    section.hidden = view !== name;
  }
  for (const link of document.querySelectorAll("nav.sections a")) {
    if (link.getAttribute("href") === `#${name}`) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  const module = state.modules[name];
  if (module && module.show) module.show(!state.shown.has(name));
  state.shown.add(name);
}

function openArticle(id) {
  window.location.hash = "#articles";
  state.modules.articles.open(id);
}

/** Admins who must use a second factor enrol before the console opens. */
function enrolFirst(user) {
  $("login").hidden = true;
  $("console").hidden = true;
  showEnrolment(api, $("second-factor"), {
    required: true,
    onDone: (enrolled) => startConsole({ ...user, ...enrolled }),
  });
}

function startConsole(user) {
  state.user = user;
  $("login").hidden = true;
  $("console").hidden = false;
  $("who").hidden = false;
  $("who-name").textContent = `${user.name} (${user.role})`;
  if (!state.modules.articles) {
    const ctx = { toast, openArticle, user };
    state.modules.articles = initArticles($("articles"), ctx);
    state.modules.transfer = initTransfer($("transfer"), ctx);
    state.modules.try = initTry($("try"), ctx);
    state.modules.tests = initTests($("tests"));
    state.modules.gaps = initGaps($("gaps"), ctx);
    state.modules.users = initUsers($("users"), ctx);
    state.modules.dashboard = initDashboard($("dashboard"));
  }
  state.shown.clear();
  route();
}

async function resume() {
  if (!getToken()) return showLogin();
  try {
    const me = await api("GET", "/api/v1/auth/me");
    const user = me.user || me;
    if (user.role !== "admin") {
      setToken(null);
      return showLogin("This console is for admins; agents work at /agent.");
    }
    try {
      await api("GET", "/api/v1/admin/users");
    } catch (error) {
      if (error.status === 403 && error.details.second_factor === "enrol") return enrolFirst(user);
    }
    startConsole(user);
  } catch (error) {
    setToken(null);
    showLogin(error.status === 401 ? "" : error.message);
  }
}

$("login-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const email = $("login-email").value.trim();
  const password = $("login-password").value;
  if (!email || !password) {
    say($("login-error"), "Enter your email and password.", "error");
    return;
  }
  const button = event.submitter || $("login-form").querySelector("button");
  button.disabled = true;
  try {
    const totp = codeOf($("login-totp"));
    const result = await api("POST", "/api/v1/auth/login", { body: { email, password, totp } });
    if (result.user.role !== "admin") {
      showLogin("This console is for admins; agents work at /agent.");
      return;
    }
    setToken(result.token);
    $("login-password").value = "";
    $("login-totp").value = "";
    say($("login-error"), "");
    if (result.enrol_second_factor) return enrolFirst(result.user);
    startConsole(result.user);
    $("main").focus();
  } catch (error) {
    const asked = askForCode(error, $("login-totp")) && error.details.second_factor === "required";
    say($("login-error"), asked ? CODE_PROMPT : error.message, "error");
  } finally {
    button.disabled = false;
  }
});

$("second-factor-button").addEventListener("click", () => {
  if (state.user && state.user.totp_enabled) {
    toast("Two-step sign-in is already on; another admin can reset it (Users).");
    return;
  }
  showEnrolment(api, $("second-factor"), {
    onDone: (user) => {
      state.user = { ...state.user, ...user };
    },
  });
});

$("logout").addEventListener("click", async () => {
  try {
    await api("POST", "/api/v1/auth/logout");
  } catch {
    // the token is dropped either way
  }
  setToken(null);
  showLogin("You are signed out.");
});

setUnauthorizedHandler(() => {
  setToken(null);
  showLogin("Your session has ended; sign in again.");
});

window.addEventListener("hashchange", route);
resume();
