-- Revocations shared by every Warden instance on this database; see the
-- package documentation of revoke/sqlrevoke. Ids are VARBINARY: a
-- character column would compare them under a collation, so that
-- revoking "Alice" would also revoke "alice" (or "alice "). Keys are
-- bounded; the Store refuses ids over 255 bytes. Times are Unix
-- nanoseconds.

-- +goose Up
CREATE TABLE warden_revocations (
    kind       CHAR(1) NOT NULL,   -- 't' token (jti), 's' session (sid), 'u' user (sub)
    id         VARBINARY(255) NOT NULL,
    not_before BIGINT NOT NULL,    -- 'u' only: tokens issued at or before it are revoked
    until      BIGINT NOT NULL,    -- the row matters until then
    PRIMARY KEY (kind, id),
    INDEX warden_revocations_until (until)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- One row, counting revocations: each instance polls it to learn that its
-- cached answers are stale.
CREATE TABLE warden_revocation_epoch (
    id    INT NOT NULL PRIMARY KEY,
    epoch BIGINT NOT NULL
) ENGINE=InnoDB;
INSERT INTO warden_revocation_epoch (id, epoch) VALUES (1, 0);

-- +goose Down
DROP TABLE warden_revocation_epoch;
DROP TABLE warden_revocations;
