-- Usernames: username_norm is the NFKC case-folded key that makes look-alike
-- names one name (the application fills it in, for existing rows too:
-- normalisation cannot be written in SQL; 600 characters fit any old name's
-- key within InnoDB's index limit, and new names are ASCII). API keys:
-- survives_reset marks the keys a password reset leaves alone (their
-- user_id foreign key already has an index here). Purge: expires_at
-- indexes let the periodic purge find expired rows without a table scan.

-- +goose Up
ALTER TABLE users ADD COLUMN username_norm VARCHAR(600) NULL, ADD UNIQUE INDEX users_username_norm (username_norm);

ALTER TABLE api_keys ADD COLUMN survives_reset BOOLEAN NOT NULL DEFAULT FALSE;

CREATE INDEX sessions_expires ON sessions(expires_at);
CREATE INDEX refresh_tokens_expires ON refresh_tokens(expires_at);
CREATE INDEX one_time_tokens_expires ON one_time_tokens(expires_at);

-- +goose Down
DROP INDEX one_time_tokens_expires ON one_time_tokens;
DROP INDEX refresh_tokens_expires ON refresh_tokens;
DROP INDEX sessions_expires ON sessions;
ALTER TABLE api_keys DROP COLUMN survives_reset;
ALTER TABLE users DROP INDEX users_username_norm, DROP COLUMN username_norm;
