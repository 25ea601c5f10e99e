// DOM helpers. Every element of the console is built here, with text
// inserted as text nodes: no user data ever reaches innerHTML, and a link
// or image may only point at a path of this origin (richtext.js builds the
// links of reviews on its own, under its own checks).

// isLocalURL reports whether v is a path of this origin ("/books/1",
// "#main"): not "//host", not "javascript:", not another site.
export function isLocalURL(v) {
  return typeof v === "string" && ((v.startsWith("/") && !v.startsWith("//") && !v.startsWith("/\\")) || v.startsWith("#"));
}

// h creates a <tag> with attributes and children. attrs: plain attributes
// (true for an empty one, false/null/undefined to leave it out), "value"
// and "checked" as properties, and "on": {event: listener}. Children are
// nodes, strings (inserted as text) or arrays of them.
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "on") {
      for (const [ev, fn] of Object.entries(v)) el.addEventListener(ev, fn);
    } else if (k === "value" || k === "checked") {
      el[k] = v;
    } else {
      // Event handler attributes and URL attributes are where markup
      // turns into script or a trip elsewhere: refuse them here, once.
      if (/^on/i.test(k) || k === "srcdoc" || k === "style") throw new Error("h: attribute " + k + " is not allowed");
      if ((k === "href" || k === "src" || k === "action" || k === "formaction") && !isLocalURL(String(v))) {
        throw new Error("h: " + k + " must be a path of this origin");
      }
      el.setAttribute(k, v === true ? "" : String(v));
    }
  }
  append(el, children);
  return el;
}

// append adds children (nodes, strings as text, nested arrays) to el.
export function append(el, ...children) {
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : String(c));
  }
  return el;
}

// clear removes every child of el.
export function clear(el) {
  el.replaceChildren();
  return el;
}

let ids = 0;

// uid returns an id unique in the page, to tie labels and descriptions
// to their controls.
export function uid(prefix) {
  ids += 1;
  return (prefix || "id") + "-" + ids;
}

// field builds a labelled form control with a place for its error, so
// that every control has a visible label and its error is announced with
// it (aria-describedby). kind: "input" (default), "textarea" or "select"
// (options: [[value, label], ...]).
export function field(opts) {
  const id = uid("f");
  const errId = id + "-err";
  const hintId = id + "-hint";
  const described = [opts.hint ? hintId : null, errId].filter(Boolean).join(" ");
  const common = {
    id, name: opts.name, required: !!opts.required, autocomplete: opts.autocomplete,
    "aria-describedby": described, minlength: opts.minlength, maxlength: opts.maxlength,
  };
  let control;
  if (opts.kind === "textarea") {
    control = h("textarea", { ...common, rows: opts.rows || 4, value: opts.value ?? "" });
  } else if (opts.kind === "select") {
    control = h("select", common, (opts.options || []).map(([v, label]) => h("option", { value: v }, label)));
    if (opts.value !== undefined) control.value = opts.value;
  } else {
    control = h("input", {
      ...common, type: opts.type || "text", value: opts.value ?? undefined, inputmode: opts.inputmode,
      min: opts.min, max: opts.max, accept: opts.accept, spellcheck: opts.spellcheck, autocapitalize: opts.autocapitalize,
    });
  }
  const wrap = h("div", { class: "field", "data-field": opts.name },
    h("label", { for: id }, opts.label, opts.required ? null : h("span", { class: "optional" }, " (optional)")),
    opts.hint ? h("p", { class: "hint", id: hintId }, opts.hint) : null,
    control,
    h("p", { class: "field-error", id: errId, hidden: true }),
  );
  return { wrap, control };
}

// checkbox builds a labelled checkbox.
export function checkbox(opts) {
  const id = uid("c");
  const control = h("input", { type: "checkbox", id, name: opts.name, checked: !!opts.checked });
  return { wrap: h("div", { class: "field field-check" }, control, h("label", { for: id }, opts.label)), control };
}

// button builds a <button>; type defaults to "button" so that only the
// buttons meant to submit a form do.
export function button(label, onClick, attrs) {
  return h("button", { type: "button", ...(attrs || {}), on: onClick ? { click: onClick } : undefined }, label);
}

// link builds an in-console link; the router handles clicks on it.
export function link(path, ...children) {
  return h("a", { href: path }, ...children);
}

// formatTime renders an ISO timestamp in the reader's locale, inside a
// <time> element that keeps the machine-readable value.
export function time(iso) {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return h("span", null, "");
  return h("time", { datetime: d.toISOString() }, d.toLocaleString());
}
