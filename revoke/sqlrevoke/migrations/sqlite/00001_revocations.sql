-- Revocations shared by every Warden instance on this database; see the
-- package documentation of revoke/sqlrevoke. Ids are stored as BLOBs, so
-- that they compare byte for byte, as the other backends compare them.
-- Times are Unix nanoseconds.

-- +goose Up
CREATE TABLE warden_revocations (
    kind       CHAR(1) NOT NULL,   -- 't' token (jti), 's' session (sid), 'u' user (sub)
    id         BLOB NOT NULL,
    not_before BIGINT NOT NULL,    -- 'u' only: tokens issued at or before it are revoked
    until      BIGINT NOT NULL,    -- the row matters until then
    PRIMARY KEY (kind, id)
) WITHOUT ROWID;
CREATE INDEX warden_revocations_until ON warden_revocations (until);

-- One row, counting revocations: each instance polls it to learn that its
-- cached answers are stale.
CREATE TABLE warden_revocation_epoch (
    id    INT NOT NULL PRIMARY KEY,
    epoch BIGINT NOT NULL
);
INSERT INTO warden_revocation_epoch (id, epoch) VALUES (1, 0);

-- +goose Down
DROP TABLE warden_revocation_epoch;
DROP TABLE warden_revocations;
