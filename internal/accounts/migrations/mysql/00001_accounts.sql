-- MySQL/MariaDB: keys and indexed columns need bounded VARCHARs, and
-- utf8mb4_bin keeps comparisons exact (the *_key columns are lower-cased
-- by the application, so case folding happens once, in Go).

-- +goose Up
CREATE TABLE users (
    id                VARCHAR(64) NOT NULL PRIMARY KEY,
    username          VARCHAR(150) NOT NULL,
    username_key      VARCHAR(150) NOT NULL UNIQUE,
    email             VARCHAR(254) NOT NULL,
    email_key         VARCHAR(254) NOT NULL UNIQUE,
    password_hash     VARCHAR(512) NOT NULL,
    first_name        VARCHAR(600) NOT NULL DEFAULT '',
    last_name         VARCHAR(600) NOT NULL DEFAULT '',
    is_staff          BOOLEAN NOT NULL DEFAULT FALSE,
    is_admin          BOOLEAN NOT NULL DEFAULT FALSE,
    email_verified    BOOLEAN NOT NULL DEFAULT FALSE,
    permissions       TEXT NOT NULL,
    created_at        BIGINT NOT NULL,
    updated_at        BIGINT NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE sessions (
    id            VARCHAR(64) NOT NULL PRIMARY KEY,
    user_id       VARCHAR(64) NOT NULL,
    created_at    BIGINT NOT NULL,
    last_used_at  BIGINT NOT NULL,
    expires_at    BIGINT NOT NULL,
    user_agent    VARCHAR(1024) NOT NULL DEFAULT '',
    ip            VARCHAR(64) NOT NULL DEFAULT '',
    revoked_at    BIGINT NULL,
    revoke_reason VARCHAR(64) NOT NULL DEFAULT '',
    INDEX sessions_user (user_id),
    FOREIGN KEY (user_id) REFERENCES users(id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE refresh_tokens (
    token_hash  CHAR(64) NOT NULL PRIMARY KEY,
    session_id  VARCHAR(64) NOT NULL,
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL,
    used_at     BIGINT NULL,
    INDEX refresh_tokens_session (session_id),
    FOREIGN KEY (session_id) REFERENCES sessions(id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE one_time_tokens (
    token_hash  CHAR(64) NOT NULL PRIMARY KEY,
    user_id     VARCHAR(64) NOT NULL,
    purpose     VARCHAR(32) NOT NULL,
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL,
    used_at     BIGINT NULL,
    INDEX one_time_tokens_user (user_id, purpose),
    FOREIGN KEY (user_id) REFERENCES users(id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE login_failures (
    login_key   VARCHAR(300) NOT NULL PRIMARY KEY,
    failures    INTEGER NOT NULL,
    last_at     BIGINT NOT NULL,
    INDEX login_failures_last (last_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE api_keys (
    id           VARCHAR(64) NOT NULL PRIMARY KEY,
    name         VARCHAR(200) NOT NULL,
    user_id      VARCHAR(64) NULL,
    secret_hash  CHAR(64) NOT NULL,
    permissions  TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    expires_at   BIGINT NULL,
    revoked_at   BIGINT NULL,
    FOREIGN KEY (user_id) REFERENCES users(id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- +goose Down
DROP TABLE api_keys;
DROP TABLE login_failures;
DROP TABLE one_time_tokens;
DROP TABLE refresh_tokens;
DROP TABLE sessions;
DROP TABLE users;
