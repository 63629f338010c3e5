"""SQLite-specific behaviour: persistence, ownership, migrations, a full disk, the home lock."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from p2psocial.core.content import Post, Relays
from p2psocial.core.errors import HomeLocked, NotOurDatabase, StorageFull, StoreError
from p2psocial.store.connection import APPLICATION_ID, migrations
from p2psocial.store.home import Home, HomeLock
from p2psocial.store.sqlite import Store
from p2psocial.testing import identity_for, make_feed, raw_entries

ME = identity_for("me")


@pytest.mark.asyncio
async def test_entries_survive_reopening(tmp_path: Path) -> None:
    path = tmp_path / "db"
    store = await Store.open(path)
    await store.set_owner(ME.public_key)
    entry = await store.append(ME, Post(text="persist me"))
    await store.ingest(raw_entries(make_feed(identity_for("alice"), 5)))
    await store.close()
    again = await Store.open(path)
    try:
        assert again.owner == ME.public_key
        got = await again.get(entry.hash)
        assert got is not None and got.header == entry.header
        assert await again.count_entries() == 6
    finally:
        await again.close()


@pytest.mark.asyncio
async def test_new_database_is_marked_ours_and_migrated(tmp_path: Path) -> None:
    store = await Store.open(tmp_path / "db")
    await store.close()
    conn = sqlite3.connect(tmp_path / "db")
    try:
        assert conn.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID
        assert conn.execute("PRAGMA user_version").fetchone()[0] == migrations()[-1][0]
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        conn.close()


@pytest.mark.asyncio
async def test_schema_1_database_is_migrated_and_found_by_hash_through_the_short_key(
        tmp_path: Path) -> None:
    path = tmp_path / "db"
    feed = make_feed(identity_for("alice"), 5)
    # a version-1 database, as the first releases wrote it, holding one entry
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA application_id={APPLICATION_ID}")
    conn.executescript(migrations()[0][1])
    conn.execute("PRAGMA user_version=1")
    first = feed[0]
    conn.execute("INSERT INTO entries (author, seq, hash, ts, type, header, payload, deleted, "
                 "received_at) VALUES (?, ?, ?, ?, ?, ?, ?, 0, 0)",
                 (first.author, first.seq, first.hash, first.timestamp, first.type,
                  first.header, first.payload))
    conn.commit()
    conn.close()
    store = await Store.open(path)
    try:
        got = await store.get(first.hash)
        assert got is not None and got.header == first.header
        await store.ingest(raw_entries(feed[1:]))
        assert set(await store.get_many([e.hash for e in feed])) == {e.hash for e in feed}
        assert [e.hash for e in await store.find_by_prefix(feed[3].hash[:3])] == [feed[3].hash]
    finally:
        await store.close()
    conn = sqlite3.connect(path)
    try:
        indexes = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='index'")}
        assert "entries_by_hash_key" in indexes and "entries_by_hash" not in indexes
        plan = conn.execute("EXPLAIN QUERY PLAN SELECT header FROM entries WHERE "
                            "substr(hash, 1, 8) = substr(?1, 1, 8) AND hash = ?1",
                            (first.hash,)).fetchall()
        assert "entries_by_hash_key" in plan[0][-1]
    finally:
        conn.close()


@pytest.mark.asyncio
async def test_lookups_by_hash_tell_apart_hashes_that_share_the_short_key(
        tmp_path: Path) -> None:
    store = await Store.open(tmp_path / "db")
    try:
        feed = make_feed(identity_for("alice"), 3)
        await store.ingest(raw_entries(feed))
        # a hash sharing the stored entry's first 8 bytes is a different entry: not found
        twin = feed[1].hash[:8] + bytes(24)
        assert await store.get(twin) is None
        assert set(await store.get_many([twin, feed[2].hash])) == {feed[2].hash}
        assert await store.find_by_prefix(twin[:12]) == []
        found = await store.find_by_prefix(feed[1].hash[:9])
        assert [e.hash for e in found] == [feed[1].hash]
    finally:
        await store.close()


@pytest.mark.asyncio
async def test_foreign_sqlite_database_is_refused_untouched(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE notes (body TEXT)")
    conn.execute("INSERT INTO notes VALUES ('precious')")
    conn.commit()
    conn.close()
    before = path.read_bytes()
    with pytest.raises(NotOurDatabase):
        await Store.open(path)
    assert path.read_bytes() == before


@pytest.mark.asyncio
async def test_file_that_is_not_sqlite_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "junk.db"
    path.write_bytes(b"this is not a database at all" * 100)
    with pytest.raises(NotOurDatabase):
        await Store.open(path)
    assert path.read_bytes().startswith(b"this is not a database")


@pytest.mark.asyncio
async def test_database_from_a_newer_version_is_refused(tmp_path: Path) -> None:
    store = await Store.open(tmp_path / "db")
    await store.close()
    conn = sqlite3.connect(tmp_path / "db")
    conn.execute("PRAGMA user_version = 999")
    conn.close()
    with pytest.raises(StoreError, match="newer p2psocial"):
        await Store.open(tmp_path / "db")


@pytest.mark.asyncio
async def test_full_disk_writes_nothing_and_keeps_what_was_stored(tmp_path: Path) -> None:
    store = await Store.open(tmp_path / "db")
    await store.set_owner(ME.public_key)
    kept = await store.append(ME, Post(text="before the disk filled"))
    # SQLite reports SQLITE_FULL once the file reaches max_page_count, as on a full disk
    await store._conn.execute("PRAGMA max_page_count = 1")  # smaller than the file: no growth
    pages = (await (await store._conn.execute("PRAGMA page_count")).fetchone())[0]
    await store._conn.execute(f"PRAGMA max_page_count = {pages}")
    alice = make_feed(identity_for("alice"), 400)
    with pytest.raises(StorageFull):
        for i in range(0, 400, 100):
            await store.ingest(raw_entries(alice[i:i + 100]))
    stored_alice = await store.count_entries(identity_for("alice").public_key)
    state = await store.feed_state(identity_for("alice").public_key)
    assert state.hi == stored_alice  # whole batches or nothing: state matches the rows
    got = await store.get(kept.hash)
    assert got is not None and got.payload == kept.payload
    await store._conn.execute("PRAGMA max_page_count = 1073741823")
    await store.ingest(raw_entries(alice))
    assert await store.count_entries(identity_for("alice").public_key) == 400
    await store.close()


@pytest.mark.asyncio
async def test_rebuilding_projections_gives_the_same_views(tmp_path: Path) -> None:
    from p2psocial.core.content import Follow
    from p2psocial.testing import FeedBuilder
    store = await Store.open(tmp_path / "db")
    await store.set_owner(ME.public_key)
    alice = FeedBuilder(identity_for("alice"))
    root = alice.post("root")
    alice.about(name="Ana")
    alice.react(root, "🎉")
    await store.ingest(raw_entries(alice.entries))
    await store.append(ME, Follow(feed=alice.identity.public_key))
    before = ([i.entry.hash for i in await store.timeline(ME.public_key)],
              await store.profile(alice.identity.public_key), await store.counts([root.hash]))
    assert await store.rebuild_projections() == 4
    after = ([i.entry.hash for i in await store.timeline(ME.public_key)],
             await store.profile(alice.identity.public_key), await store.counts([root.hash]))
    assert before == after and before[2][root.hash].reactions == {"🎉": 1}
    await store.close()


def test_second_process_is_refused_the_home(tmp_path: Path) -> None:
    home = Home(tmp_path)
    with HomeLock(home):
        code = ("import sys; from pathlib import Path; "
                "from p2psocial.store.home import Home, HomeLock; "
                "from p2psocial.core.errors import HomeLocked\n"
                "try:\n    HomeLock(Home(Path(sys.argv[1]))).acquire()\n"
                "except HomeLocked as e:\n    print(e); sys.exit(3)\n")
        result = subprocess.run([sys.executable, "-c", code, str(tmp_path)],
                                capture_output=True, text=True, timeout=30)
    assert result.returncode == 3, result.stderr
    assert "another p2psocial process" in result.stdout
    with HomeLock(home):  # released: can be taken again
        pass


def test_lock_names_the_owner_pid(tmp_path: Path) -> None:
    import os
    home = Home(tmp_path)
    with HomeLock(home), pytest.raises(HomeLocked, match=f"pid {os.getpid()}"):
        HomeLock(home).acquire()


@pytest.mark.parametrize("processes", [0, 2], ids=["threads", "processes"])
@pytest.mark.asyncio
async def test_large_batches_stop_at_the_same_bad_signature_in_threads_or_processes(
        tmp_path: Path, processes: int) -> None:
    store = await Store.open(tmp_path / "db", verify_processes=processes)
    try:
        raw = raw_entries(make_feed(identity_for("alice"), 600))
        header, payload = raw[437]
        raw[437] = (header[:-1] + bytes([header[-1] ^ 1]), payload)
        report = await store.ingest(raw)
        assert report.error is not None and report.error.rule == "H8"
        assert report.error_index == 437 and len(report.accepted) == 437
        assert await store.count_entries() == 437
    finally:
        await store.close()


@pytest.mark.asyncio
async def test_relay_lists_and_prefixed_meta_in_one_query_each(tmp_path: Path) -> None:
    store = await Store.open(tmp_path / "db")
    a, b, c = identity_for("ra"), identity_for("rb"), identity_for("rc")
    await store.append(a, Relays(addrs=("/ip4/1.2.3.4/tcp/1/p2p/x",)))
    await store.append(b, Relays(addrs=("/ip4/1.2.3.4/tcp/1/p2p/y", "/ip4/5.6.7.8/tcp/2/p2p/z")))
    await store.append(b, Relays(addrs=("/ip4/5.6.7.8/tcp/2/p2p/z",)))  # the latest wins
    lists = await store.relay_lists([a.public_key, b.public_key, c.public_key])
    assert lists == {a.public_key: ["/ip4/1.2.3.4/tcp/1/p2p/x"],
                     b.public_key: ["/ip4/5.6.7.8/tcp/2/p2p/z"]}
    assert await store.relay_list(c.public_key) == []
    await store.set_meta("hints:one", b"[1]")
    await store.set_meta("hints:two", b"[2]")
    await store.set_meta("other", b"x")
    assert await store.meta_with_prefix("hints:") == {"one": b"[1]", "two": b"[2]"}
    await store.close()


def test_multi_row_inserts_keep_row_order_across_statements() -> None:
    from p2psocial.store.sqlite import _insert_rows
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE TABLE t (k INTEGER PRIMARY KEY, v INTEGER, n INTEGER)")
    conn.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, 7)  # two rows of 3 per statement
    rows = [(i % 4, i, 1) for i in range(11)]  # keys repeat: later rows must win, in order
    _insert_rows(conn, "INSERT INTO t (k, v, n)", 3, rows,
                 "ON CONFLICT(k) DO UPDATE SET v = excluded.v, n = t.n + 1")
    assert conn.execute("SELECT k, v, n FROM t ORDER BY k").fetchall() == [
        (0, 8, 3), (1, 9, 3), (2, 10, 3), (3, 7, 2)]
    _insert_rows(conn, "INSERT INTO t (k, v, n)", 3, [])  # nothing to do is fine
