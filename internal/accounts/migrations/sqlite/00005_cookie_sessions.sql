-- Browser mode: a login may be a session cookie instead of a refresh-token
-- chain. cookie_hash is the SHA-256 digest (hex) of the cookie's value,
-- NULL for token logins; the value itself is never stored. A cookie login
-- has no refresh tokens; its expires_at is the end of its absolute
-- lifetime and last_used_at (written at most once a minute) its idle one.

-- +goose Up
ALTER TABLE sessions ADD COLUMN cookie_hash TEXT;
CREATE UNIQUE INDEX sessions_cookie_hash ON sessions(cookie_hash);

-- +goose Down
DROP INDEX sessions_cookie_hash;
ALTER TABLE sessions DROP COLUMN cookie_hash;
