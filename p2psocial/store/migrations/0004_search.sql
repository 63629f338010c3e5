-- p2psocial schema version 4: full-text search (p2psocial/store/search.py).
-- Both tables are projections: Store.open fills them from the entries when their row in
-- `projection_versions` is not store.search.SEARCH_VERSION (this migration writes none, so a
-- database migrated from an older release is indexed at its first open: SQL alone cannot
-- read the CBOR payloads). IF NOT EXISTS: it landed after 0005 (store/connection.py LANDED_LATE).

-- The definition version each versioned projection was last built with, by name: a
-- projection whose stored version differs from its code's is rebuilt at open.
CREATE TABLE IF NOT EXISTS projection_versions (
    name    TEXT PRIMARY KEY,
    version INTEGER NOT NULL
) WITHOUT ROWID;

-- One row per held post with a payload, rowid = the post's rowid in `entries`. Contentless
-- (content=''): the text is stored once, in the entry's payload; a row is removed with FTS5's
-- 'delete' command given the values it was indexed with (decoded from the payload again).
-- detail=full keeps positions, for phrases; no prefix index (measured in docs/benchmarks.md).
CREATE VIRTUAL TABLE IF NOT EXISTS post_search USING fts5(
    text, cw, tags,
    content = '',
    tokenize = 'unicode61 remove_diacritics 2'
);

-- One row per feed with a name or bio (the `profiles` projection's current values); rowid =
-- the feed key's first 8 bytes as a signed integer, the key itself kept unindexed.
CREATE VIRTUAL TABLE IF NOT EXISTS profile_search USING fts5(
    author UNINDEXED, name, bio,
    tokenize = 'unicode61 remove_diacritics 2'
);
