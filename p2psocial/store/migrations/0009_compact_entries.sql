-- p2psocial schema version 9: entries and the timeline stored compactly (issue 13, storage
-- per post). Rules in p2psocial/store/stored_header.py; figures in docs/benchmarks.md.
--
-- 1. A feed is numbered once (`feed_numbers`); the rows of `entry_rows` and `timeline_rows`
--    name it by that number (1-3 bytes) instead of its 32-byte key, in the row, in the
--    primary key's index and in the timeline.
-- 2. A header is stored without what the row already says: the author key (the feed's), and
--    the prev hash when the entry before it is held (its `hash`). In the stored form the
--    author's 32 bytes are cut after `01 58 20`, and an omitted prev is written `03 40`
--    (key 3, an empty byte string, which no canonical header holds) instead of
--    `03 58 20` + 32 bytes. A feed's held entries are a contiguous range, so every entry
--    above the lowest held one omits its prev (here: if the entry before it is there and
--    its hash is that prev, whatever an older release may have left).
-- 3. `entries` and `timeline` become views with the old columns, the header rebuilt byte for
--    byte: every read is unchanged. Writes go to the row tables.
-- Rowids of `entry_rows` are those of `entries` (the search index keys posts by them).

CREATE TABLE feed_numbers (
    id     INTEGER PRIMARY KEY,
    author BLOB    NOT NULL UNIQUE
);
INSERT INTO feed_numbers (author) SELECT author FROM entries GROUP BY author;
INSERT OR IGNORE INTO feed_numbers (author) SELECT author FROM timeline GROUP BY author;

CREATE TABLE entry_rows (
    feed        INTEGER NOT NULL,          -- feed_numbers.id
    seq         INTEGER NOT NULL,
    hash        BLOB    NOT NULL,
    ts          INTEGER NOT NULL,          -- author timestamp, ms since the Unix epoch
    type        TEXT    NOT NULL,
    header      BLOB    NOT NULL,          -- the signed header in its stored form (above)
    payload     BLOB,                      -- NULL: deleted or never received
    deleted     INTEGER NOT NULL DEFAULT 0,
    received_at INTEGER NOT NULL,          -- local clock, ms
    PRIMARY KEY (feed, seq)
);

INSERT INTO entry_rows (rowid, feed, seq, hash, ts, type, header, payload, deleted, received_at)
SELECT e.rowid, n.id, e.seq, e.hash, e.ts, e.type,
       CASE WHEN e.seq > coalesce(f.lo, e.seq) AND EXISTS (
                SELECT 1 FROM entries p WHERE p.author = e.author AND p.seq = e.seq - 1
                AND p.hash = substr(e.header, 43 + e.l, 32))
            THEN CAST(substr(e.header, 1, 6) || substr(e.header, 39, 2 + e.l) || x'40'
                      || substr(e.header, 75 + e.l) AS BLOB)
            ELSE CAST(substr(e.header, 1, 6) || substr(e.header, 39) AS BLOB)
       END,
       e.payload, e.deleted, e.received_at
FROM (SELECT rowid, *, CASE WHEN seq < 24 THEN 1       -- l: bytes of the seq in CBOR
                            WHEN seq < 256 THEN 2
                            WHEN seq < 65536 THEN 3
                            WHEN seq < 4294967296 THEN 5
                            ELSE 9 END AS l
      FROM entries) e
JOIN feed_numbers n ON n.author = e.author
LEFT JOIN feeds f ON f.author = e.author
ORDER BY e.rowid;

DROP INDEX IF EXISTS entries_by_hash_key;
DROP INDEX IF EXISTS entries_by_hash;
DROP TABLE entries;
CREATE INDEX entries_by_hash_key ON entry_rows (substr(hash, 1, 8));

CREATE VIEW entries AS
SELECT r.rowid AS rowid, n.author AS author, r.seq AS seq, r.hash AS hash, r.ts AS ts,
       r.type AS type,
       CASE WHEN substr(r.header, 8 + (CASE WHEN r.seq < 24 THEN 1
                                            WHEN r.seq < 256 THEN 2
                                            WHEN r.seq < 65536 THEN 3
                                            WHEN r.seq < 4294967296 THEN 5
                                            ELSE 9 END), 2) = x'0340'
            THEN CAST(substr(r.header, 1, 6) || n.author
                      || substr(r.header, 7, 2 + (CASE WHEN r.seq < 24 THEN 1
                                                      WHEN r.seq < 256 THEN 2
                                                      WHEN r.seq < 65536 THEN 3
                                                      WHEN r.seq < 4294967296 THEN 5
                                                      ELSE 9 END))
                      || x'5820'
                      || (SELECT p.hash FROM entry_rows p
                          WHERE p.feed = r.feed AND p.seq = r.seq - 1)
                      || substr(r.header, 10 + (CASE WHEN r.seq < 24 THEN 1
                                                     WHEN r.seq < 256 THEN 2
                                                     WHEN r.seq < 65536 THEN 3
                                                     WHEN r.seq < 4294967296 THEN 5
                                                     ELSE 9 END)) AS BLOB)
            ELSE CAST(substr(r.header, 1, 6) || n.author || substr(r.header, 7) AS BLOB)
       END AS header,
       r.payload AS payload, r.deleted AS deleted, r.received_at AS received_at
FROM entry_rows r JOIN feed_numbers n ON n.id = r.feed;

-- posts and reposts by time (as before: ts = min(author timestamp, arrival time))
CREATE TABLE timeline_rows (
    ts   INTEGER NOT NULL,
    feed INTEGER NOT NULL,                 -- feed_numbers.id
    seq  INTEGER NOT NULL,
    PRIMARY KEY (ts, feed, seq)
) WITHOUT ROWID;
INSERT INTO timeline_rows (ts, feed, seq)
SELECT t.ts, n.id, t.seq FROM timeline t JOIN feed_numbers n ON n.author = t.author;
DROP TABLE timeline;

CREATE VIEW timeline AS
SELECT t.ts AS ts, n.author AS author, t.seq AS seq
FROM timeline_rows t JOIN feed_numbers n ON n.id = t.feed;
