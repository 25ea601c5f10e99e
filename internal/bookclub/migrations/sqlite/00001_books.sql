-- Books. Ids are integers: a book is a public catalogue entry, so an
-- enumerable id gives nothing away, and the integer primary key (SQLite's
-- rowid) is the index that keyset pages walk (WHERE id < ? ORDER BY id
-- DESC LIMIT n), so a deep page costs what the first does. AUTOINCREMENT
-- keeps a deleted book's id from ever naming another book.
-- added_by is the adder's user id; there is no foreign key to the accounts
-- tables, which belong to another feature (the book club knows users only
-- through accounts' directory).
-- book_count holds the number of books, kept in the same transaction as
-- every insert and delete: COUNT(*) would read the whole table on every
-- list request, however deep the page. Its version changes with every
-- write to books, so that an instance may reuse a page it rendered while
-- the version it read with it is still the stored one.

-- +goose Up
CREATE TABLE books (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    title       TEXT NOT NULL,
    author      TEXT NOT NULL,
    isbn        TEXT NOT NULL DEFAULT '',
    added_by    TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL
);
CREATE INDEX books_added_by ON books(added_by);

CREATE TABLE book_count (
    id  INTEGER PRIMARY KEY CHECK (id = 1),
    n        BIGINT NOT NULL,
    version  BIGINT NOT NULL DEFAULT 0
);
INSERT INTO book_count (id, n) VALUES (1, 0);

-- +goose Down
DROP TABLE book_count;
DROP TABLE books;
