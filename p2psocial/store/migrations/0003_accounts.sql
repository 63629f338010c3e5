-- p2psocial schema version 3: accounts and devices (docs/protocol.md "Accounts and devices").
-- `account_ops` is a source of truth (every valid op held, overridden ones included: they stay
-- proof of what happened); `account_devices` is a projection rebuilt from it
-- (p2psocial/store/accounts.py): which account each device feed counts for.
-- A database without ops has no rows in either, and every query reads as before.

CREATE TABLE account_ops (
    hash    BLOB    PRIMARY KEY,           -- BLAKE2b-256 of raw (the op hash)
    account BLOB    NOT NULL,
    prev    BLOB,                          -- NULL for an init
    ts      INTEGER NOT NULL,              -- the op's timestamp, ms
    subject BLOB    NOT NULL,              -- the op's key: finds the accounts naming a feed (S8)
    raw     BLOB    NOT NULL               -- the signed op as received
) WITHOUT ROWID;
CREATE INDEX account_ops_by_account ON account_ops (account, ts);
CREATE INDEX account_ops_by_subject ON account_ops (subject);

-- One row per device feed of an account with an init, for the account it counts for (S8).
-- S7: an entry of `feed` counts if `after` is NULL or its seq <= after. A feed without a row
-- is a single-key identity: its own account, every entry counts.
CREATE TABLE account_devices (
    feed    BLOB    PRIMARY KEY,
    account BLOB    NOT NULL,
    after   INTEGER,                       -- NULL: counts entirely; else the last counted seq
    current INTEGER NOT NULL               -- 1: not revoked
) WITHOUT ROWID;
CREATE INDEX account_devices_by_account ON account_devices (account);
