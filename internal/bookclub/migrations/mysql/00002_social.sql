-- Profiles, follows and reviews; see the SQLite migration for the
-- choices. VARCHAR lengths count characters under utf8mb4: the service
-- checks the same limits in characters. review_text is MEDIUMTEXT: a
-- review is at most 10,000 characters, but sanitizing may lengthen it
-- (escaped characters, the rel of every link), past TEXT's 65,535 bytes.

-- +goose Up
CREATE TABLE profiles (
    user_id           VARCHAR(64) NOT NULL PRIMARY KEY,
    bio               VARCHAR(1000) NOT NULL DEFAULT '',
    visibility        VARCHAR(16) NOT NULL DEFAULT 'public',
    avatar_url        VARCHAR(512) NULL,
    notify_followers  BOOLEAN NOT NULL DEFAULT TRUE,
    notify_chat       BOOLEAN NOT NULL DEFAULT TRUE,
    created_at        BIGINT NOT NULL,
    updated_at        BIGINT NOT NULL,
    CONSTRAINT profiles_visibility CHECK (visibility IN ('public', 'followers_only', 'private'))
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE follows (
    id           BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    follower_id  VARCHAR(64) NOT NULL,
    followee_id  VARCHAR(64) NOT NULL,
    pending      BOOLEAN NOT NULL,
    created_at   BIGINT NOT NULL,
    UNIQUE KEY follows_pair (follower_id, followee_id),
    INDEX follows_followee (followee_id, pending, id),
    INDEX follows_follower (follower_id, pending, id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE reviews (
    id           BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    book_id      BIGINT NOT NULL,
    user_id      VARCHAR(64) NOT NULL,
    title        VARCHAR(200) NOT NULL,
    review_text  MEDIUMTEXT NOT NULL,
    rating       SMALLINT NOT NULL,
    is_public    BOOLEAN NOT NULL,
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL,
    INDEX reviews_public (is_public, id),
    INDEX reviews_user (user_id, id),
    INDEX reviews_book (book_id, is_public, id),
    CONSTRAINT reviews_rating CHECK (rating BETWEEN 1 AND 5),
    FOREIGN KEY (book_id) REFERENCES books(id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- +goose Down
DROP TABLE reviews;
DROP TABLE follows;
DROP TABLE profiles;
