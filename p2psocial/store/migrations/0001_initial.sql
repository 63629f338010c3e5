-- p2psocial schema version 1.
-- `entries`, `feeds`, `forks`, `deletions` and `meta` are the source of truth.
-- `timeline`, `links`, `contacts`, `profiles` and `relay_lists` are projections: they can be
-- rebuilt from `entries` at any time (Store.rebuild_projections).

CREATE TABLE entries (
    author      BLOB    NOT NULL,
    seq         INTEGER NOT NULL,
    hash        BLOB    NOT NULL,
    ts          INTEGER NOT NULL,          -- author timestamp, ms since the Unix epoch
    type        TEXT    NOT NULL,
    header      BLOB    NOT NULL,          -- signed header bytes as received
    payload     BLOB,                      -- NULL: deleted or never received
    deleted     INTEGER NOT NULL DEFAULT 0,
    received_at INTEGER NOT NULL,          -- local clock, ms
    PRIMARY KEY (author, seq)
);
CREATE UNIQUE INDEX entries_by_hash ON entries (hash);

CREATE TABLE feeds (
    author     BLOB PRIMARY KEY,
    lo         INTEGER NOT NULL,
    hi         INTEGER NOT NULL,
    lo_prev    BLOB,
    lo_ts      INTEGER NOT NULL,
    hi_hash    BLOB,
    hi_ts      INTEGER NOT NULL,
    forked     INTEGER NOT NULL DEFAULT 0,
    updated_at INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE forks (
    author   BLOB    NOT NULL,
    seq      INTEGER NOT NULL,
    hash     BLOB    NOT NULL,
    header   BLOB    NOT NULL,             -- the conflicting signed header, kept as proof
    rule     TEXT    NOT NULL,
    found_at INTEGER NOT NULL,
    PRIMARY KEY (author, hash)
) WITHOUT ROWID;

CREATE TABLE deletions (
    target BLOB    NOT NULL,               -- hash of the entry whose payload is dropped
    author BLOB    NOT NULL,               -- who asked; only the target's own author counts
    seq    INTEGER NOT NULL,
    PRIMARY KEY (target, author)
) WITHOUT ROWID;

CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value BLOB
) WITHOUT ROWID;

-- Projections ---------------------------------------------------------------------------

-- posts and reposts by time; ts = min(author timestamp, arrival time) so a future-dated
-- entry cannot sit on top of everyone's timeline.
CREATE TABLE timeline (
    ts     INTEGER NOT NULL,
    author BLOB    NOT NULL,
    seq    INTEGER NOT NULL,
    PRIMARY KEY (ts, author, seq)
) WITHOUT ROWID;

-- references from one entry to an entry (by hash) or a feed (by key):
-- rel is one of root, parent, quote, react, repost, mention.
CREATE TABLE links (
    target BLOB    NOT NULL,
    rel    TEXT    NOT NULL,
    author BLOB    NOT NULL,
    seq    INTEGER NOT NULL,
    ts     INTEGER NOT NULL,
    extra  TEXT,                           -- the reaction, for rel = react
    PRIMARY KEY (target, rel, author, seq)
) WITHOUT ROWID;
CREATE INDEX links_by_source ON links (author, seq);
CREATE INDEX links_by_rel_ts ON links (rel, target, ts);

-- the latest follow/unfollow and block/unblock of each (src, dst) pair, by seq
CREATE TABLE contacts (
    src        BLOB    NOT NULL,
    dst        BLOB    NOT NULL,
    following  INTEGER NOT NULL DEFAULT 0,
    follow_seq INTEGER NOT NULL DEFAULT 0,
    blocking   INTEGER NOT NULL DEFAULT 0,
    block_seq  INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (src, dst)
) WITHOUT ROWID;
CREATE INDEX contacts_by_dst ON contacts (dst, src);

CREATE TABLE profiles (
    author   BLOB PRIMARY KEY,
    name     TEXT,
    name_seq INTEGER NOT NULL DEFAULT 0,
    bio      TEXT,
    bio_seq  INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;

CREATE TABLE relay_lists (
    author BLOB PRIMARY KEY,
    addrs  TEXT    NOT NULL,               -- JSON list of multiaddrs
    seq    INTEGER NOT NULL
) WITHOUT ROWID;
