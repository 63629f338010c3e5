"""store.pruning on the previous release's database (tests/fixtures): migration 0008 applies,
payloads dropped leave the timeline and the search index but keep their headers, and the
one VACUUM that converts an old database to incremental auto-vacuum (it may renumber
`entries`) is followed by a search index that still finds every post left."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest

from p2psocial.runtime.service import Service
from p2psocial.store.sqlite import Store
from p2psocial.testing import identity_for

FIXTURE = Path(__file__).resolve().parent.parent / "fixtures" / "release-2026-12-db.sqlite"
ME = identity_for("release-me")
ALICE = identity_for("alice")


@pytest.mark.asyncio
async def test_pruning_on_the_previous_release(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    shutil.copyfile(FIXTURE, path)
    store = await Store.open(path, verify_processes=0)
    try:
        service = Service(store, ME.public_key, lambda: ME)
        held = await store.pruning.held_feeds()
        assert ME.public_key in held and len(held) >= 3
        assert await store.pruning.departed(held - {ME.public_key}, now=5) != {}
        posts = {f: await store.pruning.post_payloads([f]) for f in held}
        words = {}
        for rows in posts.values():
            for entry_hash, _a, _s, _t, _n in rows:
                entry = await store.get(entry_hash)
                assert entry is not None
                words[entry_hash] = entry.content.text.split()[0]  # type: ignore[union-attr]
        victim_feed = next(f for f, rows in posts.items() if f != ME.public_key and rows)
        victim_hash, author, seq, _t, _n = posts[victim_feed][0]
        await store.pruning.drop_payloads([(author, seq)])
        dropped = await store.get(victim_hash)
        assert dropped is not None and dropped.payload is None and dropped.header
        assert await store.pruning.free_bytes() >= 0
        assert await store.pruning.compact(convert=True)  # auto_vacuum was NONE: converted
        assert not await store.pruning.compact(convert=True)  # now incremental
        for entry_hash, word in words.items():
            found = {v.hash for v in (await service.search(f'"{word}"', limit=50)).posts}
            assert (entry_hash.hex() in found) == (entry_hash != victim_hash), word
    finally:
        await store.close()
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert conn.execute("PRAGMA auto_vacuum").fetchone()[0] == 2
        assert 8 in {v for (v,) in conn.execute("SELECT version FROM schema_migrations")}
        assert conn.execute("SELECT count(*) FROM departed_feeds").fetchone()[0] >= 2
    finally:
        conn.close()


@pytest.mark.asyncio
async def test_a_new_database_is_made_for_incremental_vacuum(tmp_path: Path) -> None:
    store = await Store.open(tmp_path / "new.db", verify_processes=0)
    await store.close()
    conn = sqlite3.connect(tmp_path / "new.db")
    try:
        assert conn.execute("PRAGMA auto_vacuum").fetchone()[0] == 2
    finally:
        conn.close()
