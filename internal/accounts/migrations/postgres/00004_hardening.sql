-- Usernames: username_norm is the NFKC case-folded key that makes look-alike
-- names one name (the application fills it in, for existing rows too:
-- normalisation cannot be written in SQL). API keys: survives_reset marks
-- the keys a password reset leaves alone. Purge: expires_at indexes let
-- the periodic purge find expired rows without a table scan.

-- +goose Up
ALTER TABLE users ADD COLUMN username_norm TEXT;
CREATE UNIQUE INDEX users_username_norm ON users(username_norm);

ALTER TABLE api_keys ADD COLUMN survives_reset BOOLEAN NOT NULL DEFAULT FALSE;
CREATE INDEX api_keys_user ON api_keys(user_id);

CREATE INDEX sessions_expires ON sessions(expires_at);
CREATE INDEX refresh_tokens_expires ON refresh_tokens(expires_at);
CREATE INDEX one_time_tokens_expires ON one_time_tokens(expires_at);

-- +goose Down
DROP INDEX one_time_tokens_expires;
DROP INDEX refresh_tokens_expires;
DROP INDEX sessions_expires;
DROP INDEX api_keys_user;
ALTER TABLE api_keys DROP COLUMN survives_reset;
DROP INDEX users_username_norm;
ALTER TABLE users DROP COLUMN username_norm;
