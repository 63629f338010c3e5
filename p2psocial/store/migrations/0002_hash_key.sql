-- p2psocial schema version 2: entries are found by hash through an index on the hash's first
-- 8 bytes (the "hash key") instead of the whole 32.
-- Why: received entries arrive in random hash order, so every batch touches most pages of a
-- hash index; a 32-byte key made that index the largest part of each commit (measured: the
-- write path 24 -> 18 µs per entry with the short key). Uniqueness needs no index: equal
-- hashes mean equal header bytes, hence the same (author, seq), the primary key.
-- Queries by hash say `substr(hash, 1, 8) = substr(?, 1, 8) AND hash = ?` (see HASH_KEY in
-- p2psocial/store/sqlite.py) so that SQLite uses this index.

DROP INDEX entries_by_hash;
CREATE INDEX entries_by_hash_key ON entries (substr(hash, 1, 8));
