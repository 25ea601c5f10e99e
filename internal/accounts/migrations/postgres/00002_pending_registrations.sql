-- Registrations lapse until verified, and a registration for an address that
-- already has an account is kept as a pending row that claims the address
-- without owning it (see internal/accounts/pending.go):
--   registration_expires_at  when an unverified registration lapses (its
--                            row is then deleted and its username free);
--                            NULL for verified and operator-created accounts.
--   claimed_email_key        set only on pending rows: the address they were
--                            registered with (lower-cased). Their email_key
--                            is 'pending:<id>', which no address can equal.
--   accounts_secrets         per-installation random keys, shared by every
--                            instance through the database.

-- +goose Up
ALTER TABLE users ADD COLUMN claimed_email_key TEXT;
ALTER TABLE users ADD COLUMN registration_expires_at BIGINT;
CREATE INDEX users_claimed_email ON users(claimed_email_key);
CREATE INDEX users_registration_expires ON users(registration_expires_at);

CREATE TABLE accounts_secrets (
    name        TEXT PRIMARY KEY,
    secret      TEXT NOT NULL,
    created_at  BIGINT NOT NULL
);

-- +goose Down
DROP TABLE accounts_secrets;
DROP INDEX users_registration_expires;
DROP INDEX users_claimed_email;
ALTER TABLE users DROP COLUMN registration_expires_at;
ALTER TABLE users DROP COLUMN claimed_email_key;
