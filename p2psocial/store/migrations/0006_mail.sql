-- p2psocial schema version 6: private messages (docs/protocol.md §Private messages).
-- Sources of truth, not projections: rebuild_projections leaves them alone. Never sent to
-- peers except as the mail protocol says. Written with IF NOT EXISTS so that applying it
-- twice is harmless.

-- Holder side (M21): the wraps held for a mailbox (a member's, or this node's own account).
-- No sender and no time finer than the hour is stored.
CREATE TABLE IF NOT EXISTS mailbox (
    account   BLOB    NOT NULL,             -- the mailbox: the wrap's `to`
    cursor    INTEGER NOT NULL,             -- 1, 2, 3, ... per mailbox, never reused
    wrap_hash BLOB    NOT NULL,
    wrap      BLOB    NOT NULL,
    hour      INTEGER NOT NULL,             -- arrival, ms rounded down to the hour
    PRIMARY KEY (account, cursor)
) WITHOUT ROWID;
CREATE UNIQUE INDEX IF NOT EXISTS mailbox_by_hash ON mailbox (account, wrap_hash);

-- Per mailbox: the last cursor given (so cursors are never reused after wraps go) and the
-- account's policy (M15 POLICY: 1 = followed senders only).
CREATE TABLE IF NOT EXISTS mailboxes (
    account       BLOB    PRIMARY KEY,
    last_cursor   INTEGER NOT NULL DEFAULT 0,
    followed_only INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;

-- Each device's ACK cursor (M20, M21).
CREATE TABLE IF NOT EXISTS mailbox_acks (
    account BLOB    NOT NULL,
    device  BLOB    NOT NULL,
    cursor  INTEGER NOT NULL,
    PRIMARY KEY (account, device)
) WITHOUT ROWID;

-- Reader side: inner messages this device opened and admitted (M5), one row per (from, id)
-- (copies dropped, M10). `inner` is the signed message as received; the other columns are
-- read from it, to find and order rows.
CREATE TABLE IF NOT EXISTS inbox (
    from_account BLOB    NOT NULL,
    id           BLOB    NOT NULL,
    conv         BLOB    NOT NULL,          -- the conversation id (M2)
    ts           INTEGER NOT NULL,
    arrival      INTEGER NOT NULL,          -- when this device first had it, ms
    kind         TEXT    NOT NULL,
    inner        BLOB    NOT NULL,
    PRIMARY KEY (from_account, id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS inbox_by_conv ON inbox (conv, arrival);

-- One row per conversation this device holds: its participants (sorted account ids,
-- concatenated), what this device has read (M13: local only) and its last activity.
CREATE TABLE IF NOT EXISTS conversations (
    conv         BLOB    PRIMARY KEY,
    participants BLOB    NOT NULL,
    read_upto    INTEGER NOT NULL DEFAULT 0, -- messages ordered at or before this are read
    last_arrival INTEGER NOT NULL
) WITHOUT ROWID;

-- Wrap hashes already opened (copies from several holders are dropped, M10).
CREATE TABLE IF NOT EXISTS mail_seen (
    wrap_hash BLOB    PRIMARY KEY,
    arrival   INTEGER NOT NULL
) WITHOUT ROWID;

-- Opened messages whose writer's ops are not held yet (M5d: wait at most 7 days).
CREATE TABLE IF NOT EXISTS mail_waiting (
    from_account BLOB    NOT NULL,
    id           BLOB    NOT NULL,
    reader       BLOB    NOT NULL,          -- the mailbox (account) it came to
    inner        BLOB    NOT NULL,
    since        INTEGER NOT NULL,
    PRIMARY KEY (from_account, id)
) WITHOUT ROWID;

-- Writer side (M18): wraps not yet held by enough holders.
CREATE TABLE IF NOT EXISTS outbox (
    wrap_hash BLOB    PRIMARY KEY,
    account   BLOB    NOT NULL,             -- the mailbox it goes to
    conv      BLOB    NOT NULL,
    wrap      BLOB    NOT NULL,
    written   INTEGER NOT NULL,
    attempts  INTEGER NOT NULL DEFAULT 0,
    held_by   INTEGER NOT NULL DEFAULT 0,   -- holders that answered stored or duplicate
    next_try  INTEGER,                      -- null: delivered or given up
    status    TEXT    NOT NULL DEFAULT 'pending'  -- pending, delivered, failed
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS outbox_due ON outbox (next_try) WHERE next_try IS NOT NULL;
