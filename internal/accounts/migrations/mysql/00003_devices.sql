-- Devices (API.md, `device`): a login that presents a live device of its
-- account counts failed passwords apart from strangers'. Only the SHA-256
-- digest of each device token is stored; a device expires deviceTTL after
-- its last use and a password reset deletes a user's devices.

-- +goose Up
CREATE TABLE devices (
    id            VARCHAR(64) NOT NULL PRIMARY KEY,
    user_id       VARCHAR(64) NOT NULL,
    token_hash    CHAR(64) NOT NULL UNIQUE,
    created_at    BIGINT NOT NULL,
    last_used_at  BIGINT NOT NULL,
    expires_at    BIGINT NOT NULL,
    INDEX devices_user (user_id, last_used_at),
    INDEX devices_expires (expires_at),
    FOREIGN KEY (user_id) REFERENCES users(id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- +goose Down
DROP TABLE devices;
