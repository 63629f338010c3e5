-- p2psocial schema version 8: feeds held but no longer wanted (store/pruning.py). Local only.
-- Written with IF NOT EXISTS so that applying it twice is harmless.

-- A feed this node holds that it no longer wants (unfollowed, or out of reach of every hop),
-- since when. Wanted again: the row goes. Past the grace period its entries leave the store.
CREATE TABLE IF NOT EXISTS departed_feeds (
    author  BLOB    PRIMARY KEY,
    since   INTEGER NOT NULL                -- when it was first seen unwanted, ms
) WITHOUT ROWID;
