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
ALTER TABLE users
    ADD COLUMN claimed_email_key VARCHAR(254) NULL,
    ADD COLUMN registration_expires_at BIGINT NULL,
    ADD INDEX users_claimed_email (claimed_email_key),
    ADD INDEX users_registration_expires (registration_expires_at);

CREATE TABLE accounts_secrets (
    name        VARCHAR(64) NOT NULL PRIMARY KEY,
    secret      VARCHAR(128) NOT NULL,
    created_at  BIGINT NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- +goose Down
DROP TABLE accounts_secrets;
ALTER TABLE users
    DROP INDEX users_registration_expires,
    DROP INDEX users_claimed_email,
    DROP COLUMN registration_expires_at,
    DROP COLUMN claimed_email_key;
