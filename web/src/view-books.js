// Books and their reviews: the list (anyone), adding a book (with the
// permission books.add_book), a book's page with its reviews, editing or
// deleting a book (its adder or staff) and one's own reviews.
import { get, post, patch, del, q, seg } from "./api.js";
import { h, field, checkbox, button, link, time } from "./dom.js";
import { form, value, errorBox } from "./forms.js";
import { navigate, reload } from "./router.js";
import { richText } from "./richtext.js";
import * as session from "./session.js";

export const ADD_BOOK = "books.add_book";

// pager renders a list whose pages follow the API's next cursor: the
// first page at once, then a "Load more" button while there is more.
// fetchPage(cursor) answers {results, next}; item(x) renders one entry.
export async function pager({ list, fetchPage, item, empty, more }) {
  const wrap = h("div", { class: "pager" }, list);
  const status = h("p", { class: "muted", role: "status" });
  let next = null;
  const btn = button(more || "Load more", async () => {
    btn.disabled = true;
    try {
      await load(next);
      // Keep the keyboard where the reader was: on the button, or on the
      // list once the button is gone.
      if (!btn.hidden) btn.focus();
    } catch (err) {
      status.replaceChildren(errorBox(err));
    } finally {
      btn.disabled = false;
    }
  }, { class: "secondary" });
  async function load(cursor) {
    const res = await fetchPage(cursor);
    const items = Array.isArray(res.results) ? res.results : [];
    for (const x of items) list.append(item(x));
    next = typeof res.next === "string" && res.next ? res.next : null;
    btn.hidden = !next;
    if (!list.children.length) status.textContent = empty;
    else if (cursor) status.textContent = `${items.length} more loaded.`;
  }
  await load(null);
  wrap.append(btn, status);
  return wrap;
}

function bookFields(b) {
  return [
    field({ label: "Title", name: "title", required: true, maxlength: 255, value: b ? b.title : "" }).wrap,
    field({ label: "Author", name: "author", required: true, maxlength: 255, value: b ? b.author : "" }).wrap,
    field({ label: "ISBN", name: "isbn", maxlength: 17, value: b ? b.isbn : "", inputmode: "numeric", hint: "ISBN-10 or ISBN-13." }).wrap,
  ];
}

export async function homeView({ page }) {
  const me = session.current();
  page.append(h("h1", null, "Warden book club"));
  if (me) {
    page.append(
      h("p", null, "Welcome back, ", h("strong", null, me.username), "."),
      h("ul", { class: "cards" },
        h("li", null, link("/books", "Browse books"), h("p", null, "The club’s catalogue and its reviews.")),
        h("li", null, link("/chat", "Chat rooms"), h("p", null, "Talk with other readers, live.")),
        h("li", null, link("/users/" + seg(me.username), "Your profile"), h("p", null, "What others see of you.")),
        h("li", null, link("/account", "Your account"), h("p", null, "Profile, avatar, password, sessions.")),
      ),
    );
  } else {
    page.append(
      h("p", null, "Share what you read: a catalogue of books, reviews, profiles and live chat rooms."),
      h("p", { class: "actions" }, link("/login", "Log in"), " ", link("/register", "Create an account"), " ", link("/books", "Browse books")),
    );
  }
  return "Home";
}

function bookItem(b) {
  return h("li", { class: "item" },
    h("h2", { class: "item-title" }, link("/books/" + seg(b.id), b.title)),
    h("p", null, "by ", b.author, b.isbn ? ` · ISBN ${b.isbn}` : ""),
    b.added_by ? h("p", { class: "muted" }, "Added by ", link("/users/" + seg(b.added_by), b.added_by)) : null,
  );
}

export async function booksView({ page }) {
  page.append(h("h1", null, "Books"));
  if (session.can(ADD_BOOK)) {
    page.append(h("details", { class: "panel" },
      h("summary", null, "Add a book"),
      form({
        label: "Add a book",
        submit: "Add book",
        children: bookFields(null),
        async onSubmit(el) {
          const body = { title: value(el, "title"), author: value(el, "author") };
          if (value(el, "isbn")) body.isbn = value(el, "isbn");
          const b = await post("/api/books", body);
          navigate("/books/" + seg(b.id), { flash: "Book added." });
        },
      }),
    ));
  }
  page.append(await pager({
    list: h("ul", { class: "list", "aria-label": "Books" }),
    fetchPage: (cursor) => get("/api/books" + q({ cursor })),
    item: bookItem,
    empty: "No books yet.",
    more: "Load more books",
  }));
  return "Books";
}

function stars(n) {
  const r = Math.max(0, Math.min(5, Number(n) || 0));
  return h("span", { class: "stars", role: "img", "aria-label": `${r} out of 5` }, "★".repeat(r) + "☆".repeat(5 - r));
}

function reviewFields(r) {
  return [
    field({ label: "Title", name: "title", required: true, maxlength: 200, value: r ? r.title : "" }).wrap,
    field({ label: "Review", name: "review_text", kind: "textarea", required: true, rows: 6, value: r ? r.review_text : "", hint: "Plain text, or simple HTML: <p>, <br>, <strong>, <em>, <u>, <ul>, <ol>, <li> and <a href>. Anything else is removed." }).wrap,
    field({ label: "Rating", name: "rating", kind: "select", required: true, value: r ? String(r.rating) : "5", options: [["5", "5 – excellent"], ["4", "4 – good"], ["3", "3 – fair"], ["2", "2 – poor"], ["1", "1 – bad"]] }).wrap,
    checkbox({ label: "Public (anyone may read it)", name: "is_public", checked: r ? r.is_public : true }).wrap,
  ];
}

function reviewBody(el) {
  return {
    title: value(el, "title"),
    review_text: value(el, "review_text"),
    rating: Number.parseInt(value(el, "rating"), 10),
    is_public: el.elements.namedItem("is_public").checked,
  };
}

function reviewItem(r) {
  const me = session.current();
  const mine = me && r.user === me.username;
  const body = h("div", { class: "review-text" }, richText(r.review_text));
  const li = h("li", { class: "item review" },
    h("h3", { class: "item-title" }, r.title),
    h("p", { class: "muted" }, stars(r.rating), " by ", r.user ? link("/users/" + seg(r.user), r.user) : "a former member", " · ", time(r.created_at), r.is_public ? "" : " · private"),
    body,
  );
  if (mine) {
    const editor = h("details", { class: "panel" }, h("summary", null, "Edit this review"), form({
      label: "Edit review",
      submit: "Save review",
      children: reviewFields(r),
      async onSubmit(el) {
        await patch("/api/reviews/" + seg(r.id), reviewBody(el));
        await reload("Review saved.");
      },
    }));
    li.append(editor, button("Delete this review", async (ev) => {
      if (!confirm("Delete this review?")) return;
      ev.target.disabled = true;
      try {
        await del("/api/reviews/" + seg(r.id));
        await reload("Review deleted.");
      } catch (err) {
        ev.target.disabled = false;
        li.append(errorBox(err));
      }
    }, { class: "danger" }));
  }
  return li;
}

export async function bookView({ page, params }) {
  let b;
  try {
    b = await get("/api/books/" + seg(params.id));
  } catch (err) {
    if (err.status !== 404 && err.status !== 400) throw err;
    page.append(h("h1", null, "Book not found"), h("p", null, link("/books", "Back to the books")));
    return "Book not found";
  }
  const me = session.current();
  page.append(
    h("p", { class: "crumbs" }, link("/books", "Books")),
    h("h1", null, b.title),
    h("p", { class: "lead" }, "by ", b.author),
    h("dl", { class: "facts" },
      b.isbn ? [h("dt", null, "ISBN"), h("dd", null, b.isbn)] : null,
      h("dt", null, "Added by"), h("dd", null, b.added_by ? link("/users/" + seg(b.added_by), b.added_by) : "a former member"),
      h("dt", null, "Added"), h("dd", null, time(b.created_at)),
    ),
  );
  if (me && (me.is_staff || me.is_admin || b.added_by === me.username)) {
    page.append(h("details", { class: "panel" },
      h("summary", null, "Edit this book"),
      form({
        label: "Edit book",
        submit: "Save book",
        children: bookFields(b),
        async onSubmit(el) {
          // An emptied ISBN is sent as "", which clears it.
          await patch("/api/books/" + seg(b.id), { title: value(el, "title"), author: value(el, "author"), isbn: value(el, "isbn") });
          await reload("Book saved.");
        },
      }),
      button("Delete this book", async (ev) => {
        if (!confirm("Delete this book?")) return;
        ev.target.disabled = true;
        try {
          await del("/api/books/" + seg(b.id));
          navigate("/books", { flash: "Book deleted." });
        } catch (err) {
          ev.target.disabled = false;
          ev.target.after(errorBox(err));
        }
      }, { class: "danger" }),
    ));
  }
  const section = h("section", { "aria-labelledby": "reviews-h" }, h("h2", { id: "reviews-h" }, "Reviews"));
  page.append(section);
  section.append(await pager({
    list: h("ul", { class: "list", "aria-label": "Reviews" }),
    fetchPage: (cursor) => get("/api/reviews" + q({ book_id: b.id, cursor })),
    item: reviewItem,
    empty: "No reviews yet.",
    more: "Load more reviews",
  }));
  if (me) {
    section.append(h("details", { class: "panel" }, h("summary", null, "Write a review"), form({
      label: "Write a review",
      submit: "Publish review",
      children: reviewFields(null),
      async onSubmit(el) {
        await post("/api/reviews", { book_id: b.id, ...reviewBody(el) });
        await reload("Review published.");
      },
    })));
  } else {
    section.append(h("p", null, link("/login?next=" + encodeURIComponent("/books/" + b.id), "Log in"), " to write a review."));
  }
  return b.title;
}
