// Review text: HTML the server has already sanitized (API.md: p, br,
// strong, em, u, ul, ol, li, a[href, title]; http, https and mailto
// links). It is shown without trusting that: the string is parsed into an
// inert document (DOMParser: no script runs, nothing loads), and a fresh
// tree is built from it with createElement, copying only the allowed
// elements and attributes and re-checking each link. Anything else keeps
// its text and loses its markup. No parsed node is ever inserted.
//
// Under the page's CSP (require-trusted-types-for 'script'; trusted-types
// console) parseFromString takes a TrustedHTML, which only the policy
// below makes; it is private to this module, so this function is the one
// way in which a string becomes markup in the console.

const policy = globalThis.trustedTypes
  ? globalThis.trustedTypes.createPolicy("console", { createHTML: (s) => s })
  : { createHTML: (s) => s };

const ALLOWED = new Set(["P", "BR", "STRONG", "EM", "U", "UL", "OL", "LI", "A"]);
const SCHEMES = new Set(["http:", "https:", "mailto:"]);
const MAX_DEPTH = 32;

// richText returns a DocumentFragment with the review text html, built as
// described above.
export function richText(html) {
  const out = document.createDocumentFragment();
  if (typeof html !== "string" || html === "") return out;
  const doc = new DOMParser().parseFromString(policy.createHTML(html), "text/html");
  copy(doc.body, out, 0);
  return out;
}

function copy(from, to, depth) {
  for (const node of from.childNodes) {
    if (node.nodeType === Node.TEXT_NODE) {
      to.append(document.createTextNode(node.data));
      continue;
    }
    if (node.nodeType !== Node.ELEMENT_NODE) continue; // comments and the like
    if (depth >= MAX_DEPTH) {
      to.append(document.createTextNode(node.textContent || ""));
      continue;
    }
    const tag = node.tagName;
    if (!ALLOWED.has(tag)) {
      // Not expected from the server; a <script> or <style> body is not
      // text a reader should see either.
      if (tag !== "SCRIPT" && tag !== "STYLE" && tag !== "TEMPLATE") copy(node, to, depth + 1);
      continue;
    }
    const el = document.createElement(tag.toLowerCase());
    if (tag === "A") {
      const href = safeHref(node.getAttribute("href"));
      if (href === null) {
        copy(node, to, depth + 1); // a link we will not follow is its text
        continue;
      }
      el.setAttribute("href", href);
      el.setAttribute("rel", "nofollow noopener noreferrer");
      const title = node.getAttribute("title");
      if (title) el.setAttribute("title", title);
    }
    copy(node, el, depth + 1);
    to.append(el);
  }
}

// safeHref returns the absolute URL of an http, https or mailto link, or
// null for anything else (javascript:, data:, relative paths).
export function safeHref(href) {
  if (typeof href !== "string") return null;
  let url;
  try {
    url = new URL(href);
  } catch {
    return null;
  }
  return SCHEMES.has(url.protocol) ? url.href : null;
}
