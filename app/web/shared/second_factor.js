// The staff second factor (TOTP) in both consoles: the code field of the sign-in form, shown
// when the server answers that the account needs a code, and the enrolment panel (the secret
// as text and its otpauth:// URI, shown once, then a code to confirm).
import { h, say } from "./dom.js";

export const CODE_PROMPT = "Enter the 6-digit one-time code from your authenticator app.";

/** Whether a refused sign-in asks for a one-time code (the code field is then shown). */
export function askForCode(error, codeField) {
  const kind = error && error.details && error.details.second_factor;
  if (kind !== "required" && kind !== "wrong") return false;
  codeField.closest(".field").hidden = false;
  codeField.value = "";
  codeField.focus();
  return true;
}

/** The code typed in the sign-in form, if its field is shown. */
export function codeOf(codeField) {
  const value = codeField.value.replace(/\s+/g, "");
  return codeField.closest(".field").hidden || !value ? undefined : value;
}

/**
 * Render the enrolment panel into `container`: POST /api/v1/auth/totp/enrol, show the secret
 * and URI, then confirm a code; `onDone(user)` once it is on.
 */
export async function showEnrolment(api, container, { required = false, onDone = () => {} } = {}) {
  const msg = h("p", { class: "notice", role: "alert", hidden: true });
  container.replaceChildren(msg);
  container.hidden = false;
  let enrolment;
  try {
    enrolment = await api("POST", "/api/v1/auth/totp/enrol");
  } catch (error) {
    say(msg, error.message, "error");
    return;
  }
  const code = h("input", {
    id: "totp-confirm-code",
    type: "text",
    inputmode: "numeric",
    autocomplete: "one-time-code",
    maxlength: 16,
    required: true,
  });
  const form = h(
    "form",
    { class: "second-factor", novalidate: true },
    h("h2", {}, "Two-step sign-in"),
    required ? h("p", {}, "Admins must use a one-time code here: set it up before going on.") : null,
    h("p", {}, "Add this secret to an authenticator app (it is shown only now):"),
    h("p", {}, h("code", { id: "totp-secret" }, enrolment.secret)),
    h("p", {}, "or open this link on the phone that has the app:"),
    h("p", {}, h("code", { id: "totp-uri", class: "wrap" }, enrolment.otpauth_uri)),
    h("div", { class: "field" }, h("label", { for: "totp-confirm-code" }, "Code the app shows now"), code),
    h("button", { type: "submit" }, "Turn on two-step sign-in"),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      const user = await api("POST", "/api/v1/auth/totp/confirm", { body: { code: code.value } });
      container.replaceChildren(h("p", { class: "notice", role: "status" }, "Two-step sign-in is on: sign-in now asks for a code."));
      onDone(user);
    } catch (error) {
      say(msg, error.message, "error");
      code.focus();
    }
  });
  container.append(form);
  code.focus();
}
