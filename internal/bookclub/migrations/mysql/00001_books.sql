-- Books; see the SQLite migration for the choices. The AUTO_INCREMENT
-- primary key is InnoDB's clustered index, which keyset pages walk
-- (WHERE id < ? ORDER BY id DESC LIMIT n). MySQL 8 persists the counter,
-- so a deleted book's id is not handed out again after a restart.
-- VARCHAR lengths count characters under utf8mb4: the service checks the
-- same limits in characters.

-- +goose Up
CREATE TABLE books (
    id          BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    title       VARCHAR(200) NOT NULL,
    author      VARCHAR(200) NOT NULL,
    isbn        VARCHAR(13) NOT NULL DEFAULT '',
    added_by    VARCHAR(64) NOT NULL,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL,
    INDEX books_added_by (added_by)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE book_count (
    id  INT NOT NULL PRIMARY KEY,
    n        BIGINT NOT NULL,
    version  BIGINT NOT NULL DEFAULT 0
) ENGINE=InnoDB;
INSERT INTO book_count (id, n) VALUES (1, 0);

-- +goose Down
DROP TABLE book_count;
DROP TABLE books;
