-- Profiles, follows and reviews (docs/API.md, the book club).
--
-- User ids are the accounts feature's; as for books, there is no foreign
-- key to the accounts tables, which belong to that feature.
--
-- profiles: one row per user who has changed a setting. A user without a
-- row has the defaults written here (public, empty bio, no avatar,
-- notifications on), so every user has a profile without a row being
-- created at registration. avatar_url stays NULL until an avatar exists.
--
-- follows: follower_id follows followee_id; pending marks a request to a
-- followers_only user that the followee has not approved yet. The integer
-- id orders the lists (newest first), so that a list's cursor holds a row
-- id rather than a user id. One row per pair.
--
-- reviews: title is plain text, review_text sanitized HTML (both cleaned
-- on the way in and again on the way out). A book's reviews go with it.

-- +goose Up
CREATE TABLE profiles (
    user_id           TEXT PRIMARY KEY,
    bio               TEXT NOT NULL DEFAULT '',
    visibility        TEXT NOT NULL DEFAULT 'public' CHECK (visibility IN ('public', 'followers_only', 'private')),
    avatar_url        TEXT,
    notify_followers  BOOLEAN NOT NULL DEFAULT TRUE,
    notify_chat       BOOLEAN NOT NULL DEFAULT TRUE,
    created_at        BIGINT NOT NULL,
    updated_at        BIGINT NOT NULL
);

CREATE TABLE follows (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    follower_id  TEXT NOT NULL,
    followee_id  TEXT NOT NULL,
    pending      BOOLEAN NOT NULL,
    created_at   BIGINT NOT NULL,
    UNIQUE (follower_id, followee_id)
);
CREATE INDEX follows_followee ON follows(followee_id, pending, id);
CREATE INDEX follows_follower ON follows(follower_id, pending, id);

CREATE TABLE reviews (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    book_id      INTEGER NOT NULL REFERENCES books(id) ON DELETE CASCADE,
    user_id      TEXT NOT NULL,
    title        TEXT NOT NULL,
    review_text  TEXT NOT NULL,
    rating       INTEGER NOT NULL CHECK (rating BETWEEN 1 AND 5),
    is_public    BOOLEAN NOT NULL,
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL
);
CREATE INDEX reviews_public ON reviews(is_public, id);
CREATE INDEX reviews_user ON reviews(user_id, id);
CREATE INDEX reviews_book ON reviews(book_id, is_public, id);

-- +goose Down
DROP TABLE reviews;
DROP TABLE follows;
DROP TABLE profiles;
