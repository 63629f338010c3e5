-- p2psocial schema version 5: mutes and bookmarks. Local only: never published, never sent to
-- peers, not projections (the user's own choices: rebuild_projections leaves them alone).
-- Written with IF NOT EXISTS so that applying it twice is harmless.

-- An account (a single-key identity's own key) whose posts, reposts and notifications are
-- hidden here. Muting is not blocking: its feeds are still replicated and served.
CREATE TABLE IF NOT EXISTS muted_accounts (
    account BLOB    PRIMARY KEY,
    ts      INTEGER NOT NULL                -- when it was muted, ms
) WITHOUT ROWID;

-- A word or phrase (p2psocial/core/mutes.py: case folded, whitespace collapsed): posts whose
-- text, content warning or tags hold it are hidden from the timeline and notifications.
CREATE TABLE IF NOT EXISTS muted_words (
    word    TEXT    PRIMARY KEY,
    ts      INTEGER NOT NULL
) WITHOUT ROWID;

-- An entry the user bookmarked (held or not: a bookmark outlives a deleted payload).
CREATE TABLE IF NOT EXISTS bookmarks (
    hash    BLOB    PRIMARY KEY,
    ts      INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS bookmarks_by_ts ON bookmarks (ts);
