// The signed-in user's own page: profile and visibility, avatar, follow
// requests, password change, and the logins of the account with "log out
// everywhere".
import { get, patch, post, del, request, q, seg } from "./api.js";
import { h, field, button, link, time } from "./dom.js";
import { form, value, raw, errorBox } from "./forms.js";
import { navigate } from "./router.js";
import { VISIBILITY, avatar } from "./view-users.js";
import { pager } from "./view-books.js";
import * as session from "./session.js";

const AVATAR_TYPES = ["image/png", "image/jpeg", "image/webp"];
const AVATAR_MAX = 5 * 1024 * 1024;

function section(id, title, ...children) {
  return h("section", { class: "panel", "aria-labelledby": id }, h("h2", { id }, title), ...children);
}

function profileSection(own) {
  return section("profile-h", "Profile", form({
    label: "Profile",
    submit: "Save profile",
    children: [
      field({ label: "First name", name: "first_name", autocomplete: "given-name", maxlength: 150, value: own.first_name }).wrap,
      field({ label: "Last name", name: "last_name", autocomplete: "family-name", maxlength: 150, value: own.last_name }).wrap,
      field({ label: "Bio", name: "bio", kind: "textarea", rows: 4, maxlength: 1000, value: own.bio, hint: "Plain text, shown on your profile." }).wrap,
      field({ label: "Who may see your profile", name: "visibility", kind: "select", required: true, value: own.visibility, options: VISIBILITY }).wrap,
    ],
    async onSubmit(el) {
      await patch("/api/users/me", {
        first_name: value(el, "first_name"), last_name: value(el, "last_name"),
        bio: value(el, "bio"), visibility: value(el, "visibility"),
      });
      return "Profile saved.";
    },
  }));
}

function avatarSection(own) {
  const pic = h("div", { class: "avatar-slot" }, avatar(own.avatar_url, own.username, "large"));
  return section("avatar-h", "Avatar", pic, form({
    label: "Upload an avatar",
    submit: "Upload",
    children: [field({ label: "Picture", name: "avatar", type: "file", required: true, accept: AVATAR_TYPES.join(","), hint: "JPEG, PNG or WebP, at most 5 MB. It is scaled to at most 512×512 and stored as PNG." }).wrap],
    async onSubmit(el) {
      const file = el.elements.namedItem("avatar").files[0];
      if (!file) throw new Error("Choose a picture first.");
      // The server decides by the bytes; these checks only spare an
      // upload that would be refused.
      if (file.size > AVATAR_MAX) throw new Error("The picture is larger than 5 MB.");
      if (file.type && !AVATAR_TYPES.includes(file.type)) throw new Error("Use a JPEG, PNG or WebP picture.");
      const body = new FormData();
      body.append("avatar", file);
      const res = await request("PATCH", "/api/users/me/avatar", body);
      pic.replaceChildren(avatar(res.avatar_url, own.username, "large"));
      el.reset();
      return res.message || "Avatar uploaded.";
    },
  }));
}

async function requestsSection() {
  const status = h("p", { role: "status", class: "muted" });
  const item = (name) => {
    const li = h("li", null, link("/users/" + seg(name), String(name)), " ");
    const act = (label, fn, done, cls) => button(label, async () => {
      for (const b of li.querySelectorAll("button")) b.disabled = true;
      try {
        await fn("/api/users/me/follow-requests/" + seg(name));
        li.remove();
        status.textContent = done;
      } catch (err) {
        for (const b of li.querySelectorAll("button")) b.disabled = false;
        status.replaceChildren(errorBox(err));
      }
    }, { class: cls, "aria-label": `${label} ${name}` });
    li.append(act("Approve", (p) => post(p), `${name} now follows you.`), " ", act("Decline", (p) => del(p), `Declined ${name}.`, "secondary"));
    return li;
  };
  return section("requests-h", "Follow requests",
    await pager({
      list: h("ul", { class: "names", "aria-label": "Follow requests" }),
      fetchPage: (cursor) => get("/api/users/me/follow-requests" + q({ cursor })),
      item,
      empty: "No pending requests.",
    }),
    status);
}

function passwordSection(username) {
  return section("password-h", "Change password", form({
    label: "Change password",
    submit: "Change password",
    children: [
      // Password managers file the new password under this name.
      h("input", { type: "text", name: "username", autocomplete: "username", value: username, readonly: true, hidden: true, tabindex: "-1", "aria-hidden": "true" }),
      field({ label: "Current password", name: "current_password", type: "password", required: true, autocomplete: "current-password" }).wrap,
      field({ label: "New password", name: "new_password", type: "password", required: true, autocomplete: "new-password", minlength: 8, maxlength: 128, hint: "8 to 128 characters; not a common password, not only digits, not like your username or email." }).wrap,
      field({ label: "Repeat the new password", name: "new_password_repeat", type: "password", required: true, autocomplete: "new-password", minlength: 8, maxlength: 128 }).wrap,
    ],
    async onSubmit(el) {
      if (raw(el, "new_password") !== raw(el, "new_password_repeat")) throw new Error("The two new passwords differ.");
      const res = await patch("/api/auth/password", { current_password: raw(el, "current_password"), new_password: raw(el, "new_password") });
      el.reset();
      return ((res && res.message) || "Password changed.") + " Your other logins have been ended.";
    },
  }));
}

async function sessionsSection() {
  const status = h("p", { role: "status", class: "muted" });
  const list = h("ul", { class: "list", "aria-label": "Logins" });
  const res = await get("/api/auth/sessions");
  for (const s of res.sessions || []) {
    const li = h("li", { class: "item" },
      h("p", null, h("strong", null, s.user_agent || "Unknown device"), s.current ? h("span", { class: "badge" }, "this browser") : null),
      h("p", { class: "muted" }, "From ", s.ip || "an unknown address", " · signed in ", time(s.created_at), " · last used ", time(s.last_used_at)),
    );
    li.append(button(s.current ? "Log out here" : "End this login", async (ev) => {
      ev.target.disabled = true;
      try {
        await del("/api/auth/sessions/" + seg(s.id));
        if (s.current) {
          session.lost();
          navigate("/login", { flash: "You are logged out." });
          return;
        }
        li.remove();
        status.textContent = "Login ended.";
      } catch (err) {
        ev.target.disabled = false;
        status.replaceChildren(errorBox(err));
      }
    }, { class: "secondary" }));
    list.append(li);
  }
  const everywhere = button("Log out everywhere", async () => {
    if (!confirm("End every login of your account, this one included?")) return;
    everywhere.disabled = true;
    try {
      await post("/api/auth/logout-all");
      session.lost();
      navigate("/login", { flash: "Every login of your account has been ended." });
    } catch (err) {
      everywhere.disabled = false;
      status.replaceChildren(errorBox(err));
    }
  }, { class: "danger" });
  return section("sessions-h", "Where you are logged in", list, h("p", null, everywhere), status);
}

export async function accountView({ page }) {
  const me = session.current();
  const own = await get("/api/users/me");
  page.append(
    h("h1", null, "Your account"),
    h("p", null, "Signed in as ", h("strong", null, me.username), " (", me.email, "). ", link("/users/" + seg(me.username), "See your profile as others do"), "."),
    profileSection(own),
    avatarSection(own),
    await requestsSection(),
    passwordSection(me.username),
    await sessionsSection(),
  );
  return "Your account";
}
