// Forms: one way to submit, show progress and show errors, so that every
// form of the console tells a screen-reader user the same things in the
// same places.
import { ApiError } from "./api.js";
import { h, uid } from "./dom.js";

// form builds a <form> around the given children (field wraps, from
// dom.field). On submit it calls onSubmit(form); while that runs the
// submit button is disabled, and when it throws, the message goes to an
// alert above the button and each field's own message (ApiError.fields)
// goes under that field, which is marked invalid; focus moves to the first
// invalid field, else to the alert. onSubmit may return a string, shown
// as a success status.
export function form({ label, children, submit, onSubmit, className }) {
  const statusId = uid("status");
  const alert = h("div", { class: "form-alert", role: "alert", hidden: true, tabindex: "-1" });
  const status = h("p", { class: "form-status", id: statusId, role: "status" });
  const btn = h("button", { type: "submit" }, submit || "Save");
  const el = h("form", { class: "form " + (className || ""), "aria-label": label },
    children, alert, h("div", { class: "actions" }, btn), status);
  el.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    clearErrors(el, alert);
    status.textContent = "";
    btn.disabled = true;
    el.setAttribute("aria-busy", "true");
    try {
      const done = await onSubmit(el);
      if (typeof done === "string") status.textContent = done;
    } catch (err) {
      showError(el, alert, err);
    } finally {
      btn.disabled = false;
      el.removeAttribute("aria-busy");
    }
  });
  return el;
}

function clearErrors(el, alert) {
  alert.hidden = true;
  alert.replaceChildren();
  for (const p of el.querySelectorAll(".field-error")) {
    p.hidden = true;
    p.textContent = "";
  }
  for (const c of el.querySelectorAll("[aria-invalid]")) c.removeAttribute("aria-invalid");
}

// showError reports err on the form: its fields' messages under them, the
// rest in the alert.
export function showError(el, alert, err) {
  const message = err instanceof Error ? err.message : String(err);
  let firstInvalid = null;
  const unplaced = [];
  const fields = err instanceof ApiError ? err.fields : {};
  for (const [name, msgs] of Object.entries(fields)) {
    const list = (Array.isArray(msgs) ? msgs : [msgs]).map(String);
    const wrap = el.querySelector(`[data-field="${CSS.escape(name)}"]`);
    if (!wrap) {
      unplaced.push(...list.map((m) => name + ": " + m));
      continue;
    }
    const p = wrap.querySelector(".field-error");
    p.textContent = list.join(" ");
    p.hidden = false;
    const control = wrap.querySelector("input, textarea, select");
    if (control) {
      control.setAttribute("aria-invalid", "true");
      firstInvalid = firstInvalid || control;
    }
  }
  const details = err instanceof ApiError ? err.details : [];
  alert.replaceChildren(h("p", null, message), ...[...details, ...unplaced].map((d) => h("p", null, d)));
  alert.hidden = false;
  (firstInvalid || alert).focus();
}

// value returns the trimmed value of the control named name in form.
export function value(form, name) {
  const c = form.elements.namedItem(name);
  return c ? String(c.value).trim() : "";
}

// raw returns the value of the control named name as typed (passwords).
export function raw(form, name) {
  const c = form.elements.namedItem(name);
  return c ? String(c.value) : "";
}

// errorBox renders an error where a whole view or section failed to load.
export function errorBox(err) {
  return h("div", { class: "form-alert", role: "alert" }, h("p", null, err instanceof Error ? err.message : String(err)));
}
