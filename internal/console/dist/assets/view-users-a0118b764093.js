// Profiles: find a member, see a profile as its visibility allows, follow
// and unfollow, and the followers and following lists.
import { get, post, del, q, seg } from "./api-46da1c50a26d.js";
import { h, field, button, link, isLocalURL } from "./dom-f5008c632d85.js";
import { form, value, errorBox } from "./forms-4de2491e1295.js";
import { navigate } from "./router-3f22e348579e.js";
import { pager } from "./view-books-f358122368a3.js";
import * as session from "./session-3eed47193340.js";

export const VISIBILITY = [
  ["public", "Public: anyone"],
  ["followers_only", "Followers only: people you approve"],
  ["private", "Private: only you"],
];

const visibilityLabel = Object.fromEntries(VISIBILITY.map(([v, l]) => [v, l.split(":")[0]]));

// avatar renders a profile picture, only from this origin's /media/
// (avatar_url is a path the server chose; anything else is not shown).
export function avatar(url, username, size) {
  if (typeof url !== "string" || !url.startsWith("/media/") || !isLocalURL(url)) {
    return h("span", { class: "avatar avatar-none " + (size || ""), "aria-hidden": "true" }, (username || "?").slice(0, 1).toUpperCase());
  }
  return h("img", { class: "avatar " + (size || ""), src: url, alt: `Avatar of ${username}`, width: 96, height: 96, decoding: "async", loading: "lazy" });
}

export async function peopleView({ page }) {
  page.append(
    h("h1", null, "People"),
    h("p", null, "Profiles are shown as their owners chose: public ones to anyone, others to approved followers only."),
    form({
      label: "Find a profile",
      submit: "Show profile",
      children: [field({ label: "Username", name: "username", required: true, autocapitalize: "none", spellcheck: "false", maxlength: 150 }).wrap],
      async onSubmit(el) {
        navigate("/users/" + seg(value(el, "username")));
      },
    }),
  );
  return "People";
}

function nameList(label, fetchPage, empty) {
  return pager({
    list: h("ul", { class: "names", "aria-label": label }),
    fetchPage,
    item: (name) => h("li", null, link("/users/" + seg(name), String(name))),
    empty,
  });
}

export async function profileView({ page, params }) {
  const name = params.username;
  let p;
  try {
    p = await get("/api/users/" + seg(name));
  } catch (err) {
    if (err.status !== 404) throw err;
    page.append(h("h1", null, "Profile not found"), h("p", null, "There is no such member, or their profile is not visible to you."), h("p", null, link("/users", "Find someone else")));
    return "Profile not found";
  }
  const me = session.current();
  const self = me && me.username.toLowerCase() === String(p.username).toLowerCase();
  const status = h("p", { role: "status", class: "muted" });
  page.append(
    h("div", { class: "profile-head" },
      avatar(p.avatar_url, p.username, "large"),
      h("div", null,
        h("h1", null, p.username),
        h("p", { class: "muted" }, visibilityLabel[p.visibility] || p.visibility, " profile"),
      ),
    ),
    p.bio ? h("p", { class: "bio" }, p.bio) : h("p", { class: "muted" }, "No bio yet."),
  );
  if (self) {
    page.append(h("p", null, "This is you. ", link("/account", "Edit your profile"), "."));
  } else if (me) {
    const follow = button("Follow", async () => {
      follow.disabled = true;
      try {
        // 204: now following; 202: a request the owner must approve.
        const res = await post("/api/users/" + seg(p.username) + "/follow", undefined, { withStatus: true });
        status.textContent = res.status === 202 ? `Follow request sent; ${p.username} has to approve it.` : `You follow ${p.username}.`;
      } catch (err) {
        status.replaceChildren(errorBox(err));
      } finally {
        follow.disabled = false;
      }
    });
    const unfollow = button("Unfollow or withdraw request", async () => {
      unfollow.disabled = true;
      try {
        await del("/api/users/" + seg(p.username) + "/follow");
        status.textContent = `You no longer follow ${p.username}.`;
      } catch (err) {
        status.replaceChildren(errorBox(err));
      } finally {
        unfollow.disabled = false;
      }
    }, { class: "secondary" });
    page.append(h("p", { class: "actions" }, follow, " ", unfollow), status);
  } else {
    page.append(h("p", null, link("/login?next=" + encodeURIComponent("/users/" + p.username), "Log in"), " to follow ", p.username, "."));
  }
  const lists = h("div", { class: "columns" });
  for (const [kind, label, count] of [["followers", "Followers", p.followers], ["following", "Following", p.following]]) {
    const box = h("section", { "aria-label": label });
    const show = button(`${label} (${count})`, async () => {
      show.disabled = true;
      try {
        const list = await nameList(label, (cursor) => get(`/api/users/${seg(p.username)}/${kind}` + q({ cursor })), "Nobody yet.");
        show.replaceWith(h("h2", { tabindex: "-1" }, label), list);
        box.querySelector("h2").focus();
      } catch (err) {
        show.disabled = false;
        box.append(errorBox(err));
      }
    }, { class: "secondary" });
    box.append(show);
    lists.append(box);
  }
  page.append(lists);
  return p.username;
}
