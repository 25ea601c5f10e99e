// Views of the account flows that need no session: log in, register,
// verify the email address (from the emailed link), reset the password
// (request a link; set a new password from the link).
import { post } from "./api.js";
import { h, field, link } from "./dom.js";
import { form, value, raw } from "./forms.js";
import { navigate, safeNext } from "./router.js";
import * as session from "./session.js";
import { takeToken } from "./tokens.js";

const PASSWORD_HINT = "8 to 128 characters; not a common password, not only digits, not like your username or email.";

function newPassword(label, name) {
  return field({ label, name, type: "password", required: true, autocomplete: "new-password", minlength: 8, maxlength: 128, hint: name === "password" || name === "new_password" ? PASSWORD_HINT : undefined });
}

// checkRepeat refuses two different new passwords before asking the
// server: a typo would otherwise lock the user out of the new password.
function checkRepeat(el, name, repeat) {
  if (raw(el, name) !== raw(el, repeat)) throw new Error("The two passwords differ.");
}

export async function loginView({ page, query }) {
  const next = safeNext(query.get("next") || "/");
  if (session.current()) {
    navigate(next, { replace: true });
    return "Log in";
  }
  const resend = h("p", { hidden: true }, "Didn’t get the email? ", link("/verify-email", "Send the verification link again"), ".");
  page.append(
    h("h1", null, "Log in"),
    form({
      label: "Log in",
      submit: "Log in",
      children: [
        field({ label: "Username or email", name: "username", required: true, autocomplete: "username", autocapitalize: "none", spellcheck: "false" }).wrap,
        field({ label: "Password", name: "password", type: "password", required: true, autocomplete: "current-password" }).wrap,
      ],
      async onSubmit(el) {
        resend.hidden = true;
        try {
          await session.login(value(el, "username"), raw(el, "password"));
        } catch (err) {
          if (err.status === 403) resend.hidden = false; // email not verified yet
          throw err;
        }
        navigate(next, { replace: true, flash: "You are logged in." });
      },
    }),
    resend,
    h("p", null, link("/reset-password", "Forgot your password?")),
    h("p", null, "New here? ", link("/register", "Create an account"), "."),
  );
  return "Log in";
}

export async function registerView({ page }) {
  const done = h("div", { hidden: true, class: "notice", role: "status" });
  const f = form({
    label: "Create an account",
    submit: "Create account",
    children: [
      field({ label: "Username", name: "username", required: true, autocomplete: "username", minlength: 3, maxlength: 150, autocapitalize: "none", spellcheck: "false", hint: "3 to 150 letters, digits, '.', '_' or '-'." }).wrap,
      field({ label: "Email", name: "email", type: "email", required: true, autocomplete: "email" }).wrap,
      newPassword("Password", "password").wrap,
      newPassword("Repeat the password", "password_repeat").wrap,
      field({ label: "First name", name: "first_name", autocomplete: "given-name", maxlength: 150 }).wrap,
      field({ label: "Last name", name: "last_name", autocomplete: "family-name", maxlength: 150 }).wrap,
    ],
    async onSubmit(el) {
      checkRepeat(el, "password", "password_repeat");
      const body = { username: value(el, "username"), email: value(el, "email"), password: raw(el, "password") };
      if (value(el, "first_name")) body.first_name = value(el, "first_name");
      if (value(el, "last_name")) body.last_name = value(el, "last_name");
      const res = await post("/api/auth/register", body, { anonymous: true });
      f.hidden = true;
      done.replaceChildren(
        h("p", null, (res && res.message) || "Account created."),
        h("p", null, "We sent a link to ", h("strong", null, body.email), ". Open it to verify your address, then log in."),
        h("p", null, link("/verify-email", "Send the link again"), " · ", link("/login", "Log in")),
      );
      done.hidden = false;
      done.setAttribute("tabindex", "-1");
      done.focus();
    },
  });
  page.append(h("h1", null, "Create an account"), f, done, h("p", null, "Already registered? ", link("/login", "Log in"), "."));
  return "Create an account";
}

// resendForm asks for another verification link; the answer is the same
// for any address, so it says nothing about who is registered.
function resendForm() {
  return form({
    label: "Send the verification link again",
    submit: "Send the link",
    children: [field({ label: "Email", name: "email", type: "email", required: true, autocomplete: "email" }).wrap],
    async onSubmit(el) {
      const res = await post("/api/auth/resend-verification", { email: value(el, "email") }, { anonymous: true });
      return (res && res.message) || "If the address needs verifying, a new link is on its way.";
    },
  });
}

export async function verifyView({ page }) {
  const token = takeToken("verify");
  page.append(h("h1", null, "Verify your email"));
  if (!token) {
    page.append(h("p", null, "Open the link from your email to verify your address, or ask for a new link."), resendForm());
    return "Verify your email";
  }
  try {
    // mode cookie: the verification logs this browser in with the
    // session cookie; the answer carries no token.
    await post("/api/auth/verify-email", { token, mode: "cookie" }, { anonymous: true });
  } catch (err) {
    page.append(h("div", { class: "form-alert", role: "alert" }, h("p", null, err.message), h("p", null, "The link may have expired or been used already. Ask for a new one below.")), resendForm());
    return "Verify your email";
  }
  await session.verified();
  navigate("/", { replace: true, flash: "Your email address is verified. Welcome!" });
  return "Verify your email";
}

export async function resetView({ page }) {
  const token = takeToken("reset");
  if (!token) {
    page.append(
      h("h1", null, "Reset your password"),
      h("p", null, "Enter your email address; if it belongs to an account, we send a link to set a new password."),
      form({
        label: "Request a password reset",
        submit: "Send the link",
        children: [field({ label: "Email", name: "email", type: "email", required: true, autocomplete: "email" }).wrap],
        async onSubmit(el) {
          const res = await post("/api/auth/password-reset", { email: value(el, "email") }, { anonymous: true });
          return (res && res.message) || "If the address belongs to an account, a link is on its way.";
        },
      }),
    );
    return "Reset your password";
  }
  const done = h("div", { class: "notice", role: "status", hidden: true, tabindex: "-1" });
  const f = form({
    label: "Set a new password",
    submit: "Set password",
    children: [newPassword("New password", "password").wrap, newPassword("Repeat the new password", "password_repeat").wrap],
    async onSubmit(el) {
      checkRepeat(el, "password", "password_repeat");
      const res = await post("/api/auth/password-reset/confirm", { token, password: raw(el, "password") }, { anonymous: true });
      // Every login of the account ended with the reset, this one too.
      session.lost();
      f.hidden = true;
      done.replaceChildren(h("p", null, (res && res.message) || "Your password has been changed."), h("p", null, link("/login", "Log in with the new password")));
      done.hidden = false;
      done.focus();
    },
  });
  page.append(h("h1", null, "Set a new password"), f, done, h("p", null, "Link expired? ", link("/reset-password", "Ask for a new one"), "."));
  return "Set a new password";
}
