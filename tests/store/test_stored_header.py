"""The compact storage of entries (migration 0009, store/stored_header.py): headers stored
without the author key and the held prev, rebuilt byte for byte by the `entries` view; feeds
named by number. Real SQLite files throughout."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from p2psocial.core.content import Post
from p2psocial.core.entry import Entry, create_content_entry
from p2psocial.core.errors import StoreError
from p2psocial.store.connection import APPLICATION_ID, migrations
from p2psocial.store.pruning import purge_feed
from p2psocial.store.sqlite import Store
from p2psocial.store.stored_header import full_form, stored_form, uint_length
from p2psocial.testing import identity_for
from p2psocial.testing.builders import make_feed, raw_entries

# every length a canonical seq can take, at both ends
SEQS = (2, 23, 24, 255, 256, 65535, 65536, (1 << 32) - 1, 1 << 32, 9007199254740991)


def _pair(seq: int) -> tuple[Entry, Entry]:
    """Entries seq - 1 and seq of one feed, chained."""
    me = identity_for("stored-header")
    first = create_content_entry(me, seq=seq - 1, prev=None if seq == 2 else bytes(32),
                                 timestamp=1_700_000_000_000, content=Post(text="before"))
    second = create_content_entry(me, seq=seq, prev=first.hash, timestamp=1_700_000_001_000,
                                  content=Post(text="after"))
    return first, second


@pytest.mark.parametrize("seq", SEQS)
def test_the_stored_form_cuts_author_and_prev_and_full_form_restores_them(seq: int) -> None:
    first, second = _pair(seq)
    kept = stored_form(second.header, seq, omit_prev=False)
    cut = stored_form(second.header, seq, omit_prev=True)
    assert len(kept) == len(second.header) - 32 and second.author not in kept
    assert len(cut) == len(second.header) - 32 - 33 and first.hash not in cut
    assert full_form(kept, seq, second.author, None) == second.header
    assert full_form(cut, seq, second.author, first.hash) == second.header
    with pytest.raises(StoreError):
        full_form(cut, seq, second.author, None)
    assert second.header[39 + uint_length(seq):42 + uint_length(seq)] == b"\x03\x58\x20"


def test_a_first_entry_never_omits_a_prev_it_does_not_have() -> None:
    entry = make_feed(identity_for("stored-first"), 1)[0]
    stored = stored_form(entry.header, 1, omit_prev=True)
    assert len(stored) == len(entry.header) - 32
    assert full_form(stored, 1, entry.author, None) == entry.header


def test_a_header_not_laid_out_canonically_is_refused() -> None:
    entry = make_feed(identity_for("stored-bad"), 2)[1]
    with pytest.raises(StoreError):
        stored_form(entry.header[:3] + b"\x00" + entry.header[4:], 2, omit_prev=False)


@pytest.mark.asyncio
@pytest.mark.parametrize("seq", SEQS)
async def test_the_entries_view_rebuilds_every_stored_header_byte_for_byte(
        tmp_path: Path, seq: int) -> None:
    """Rows written in the stored form (as the write path does, for seqs of every CBOR
    length) read back through `entries` as the signed bytes."""
    path = tmp_path / "db"
    await (await Store.open(path, verify_processes=0)).close()
    first, second = _pair(seq)
    conn = sqlite3.connect(path)
    try:
        number = conn.execute("INSERT INTO feed_numbers (author) VALUES (?) RETURNING id",
                              (first.author,)).fetchone()[0]
        for entry, omit in ((first, False), (second, True)):
            conn.execute("INSERT INTO entry_rows (feed, seq, hash, ts, type, header, payload, "
                         "received_at) VALUES (?, ?, ?, ?, ?, ?, ?, 0)",
                         (number, entry.seq, entry.hash, entry.timestamp, entry.type,
                          stored_form(entry.header, entry.seq, omit_prev=omit), entry.payload))
        got = dict(conn.execute("SELECT seq, header FROM entries").fetchall())
    finally:
        conn.close()
    assert got == {first.seq: first.header, second.seq: second.header}


@pytest.mark.asyncio
async def test_a_feed_stored_newest_first_reads_back_as_signed_and_omits_held_prevs(
        tmp_path: Path) -> None:
    feed = make_feed(identity_for("stored-backfill"), 12, size=200)
    path = tmp_path / "db"
    store = await Store.open(path, verify_processes=0)
    try:
        await store.ingest(raw_entries(feed[6:]))  # the newest first, as a backfill comes
        await store.ingest(raw_entries(feed[5::-1]))  # then below it, newest first
        got = await store.get_many([e.hash for e in feed])
        assert {h: e.header for h, e in got.items()} == {e.hash: e.header for e in feed}
        assert [h for _, h, _ in await store.raw_range(feed[0].author, 1, 12)] == [
            e.header for e in feed]
    finally:
        await store.close()
    conn = sqlite3.connect(path)
    try:
        sizes = dict(conn.execute("SELECT seq, length(header) FROM entry_rows").fetchall())
    finally:
        conn.close()
    # each batch's lowest entry was the feed's lowest held one when written: it keeps its prev
    kept = {1, 7}
    assert sizes == {e.seq: len(e.header) - 32 - (0 if e.seq in kept else 33) for e in feed}


@pytest.mark.asyncio
async def test_purging_a_feed_removes_its_number_and_rows(tmp_path: Path) -> None:
    feed = make_feed(identity_for("stored-purge"), 4)
    other = make_feed(identity_for("stored-stays"), 3)
    path = tmp_path / "db"
    store = await Store.open(path, verify_processes=0)
    await store.ingest(raw_entries(feed) + raw_entries(other))
    await store.close()
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        assert purge_feed(conn, feed[0].author) == 4
        assert conn.execute("SELECT author FROM feed_numbers").fetchall() == [(other[0].author,)]
        assert conn.execute("SELECT count(*) FROM timeline_rows").fetchone()[0] == 3
        assert [bytes(r[0]) for r in conn.execute(
            "SELECT header FROM entries ORDER BY seq")] == [e.header for e in other]
    finally:
        conn.close()


@pytest.mark.asyncio
async def test_migrating_keeps_a_prev_whose_entry_is_not_there(tmp_path: Path) -> None:
    """A database of the previous schema (0001-0008) whose feed is not the contiguous range
    its state says (seq 3 missing): 0009 cuts a prev only where the entry before it is there
    with that hash, so every header still reads back as signed."""
    feed = make_feed(identity_for("stored-migrate"), 4)
    path = tmp_path / "db"
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA application_id={APPLICATION_ID}")
    for version, sql in migrations():
        if version <= 8:
            conn.executescript(sql)
    conn.execute("PRAGMA user_version=8")
    for e in (feed[0], feed[1], feed[3]):
        conn.execute("INSERT INTO entries (author, seq, hash, ts, type, header, payload, "
                     "received_at) VALUES (?, ?, ?, ?, ?, ?, ?, 0)",
                     (e.author, e.seq, e.hash, e.timestamp, e.type, e.header, e.payload))
    conn.execute("INSERT INTO feeds (author, lo, hi, lo_ts, hi_ts, updated_at) "
                 "VALUES (?, 1, 4, 0, 0, 0)", (feed[0].author,))
    conn.commit()
    conn.close()
    await (await Store.open(path, verify_processes=0)).close()
    conn = sqlite3.connect(path)
    try:
        got = {s: bytes(h) for s, h in conn.execute("SELECT seq, header FROM entries")}
        sizes = dict(conn.execute("SELECT seq, length(header) FROM entry_rows").fetchall())
    finally:
        conn.close()
    assert got == {e.seq: e.header for e in (feed[0], feed[1], feed[3])}
    assert sizes == {1: len(feed[0].header) - 32, 2: len(feed[1].header) - 65,
                     4: len(feed[3].header) - 32}
