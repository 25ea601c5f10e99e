-- Devices (API.md, `device`): a login that presents a live device of its
-- account counts failed passwords apart from strangers'. Only the SHA-256
-- digest of each device token is stored; a device expires deviceTTL after
-- its last use and a password reset deletes a user's devices.

-- +goose Up
CREATE TABLE devices (
    id            TEXT PRIMARY KEY,
    user_id       TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    token_hash    TEXT NOT NULL UNIQUE,
    created_at    BIGINT NOT NULL,
    last_used_at  BIGINT NOT NULL,
    expires_at    BIGINT NOT NULL
);
CREATE INDEX devices_user ON devices(user_id, last_used_at);
CREATE INDEX devices_expires ON devices(expires_at);

-- +goose Down
DROP TABLE devices;
