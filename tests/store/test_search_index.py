"""The search projections (store/search.py) on real SQLite files: kept by ingest and append in
the entries' transaction, left by deleted payloads, rebuilt, and built for an old database."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest

from p2psocial.core.content import Post
from p2psocial.core.search_query import parse_query, tag_match, tags_column
from p2psocial.store import search
from p2psocial.store.sqlite import Store
from p2psocial.testing import FeedBuilder, identity_for, raw_entries

ME = identity_for("search-me")
ALICE = identity_for("search-alice")
BOB = identity_for("search-bob")
FIXTURE = Path(__file__).resolve().parent.parent / "fixtures" / "release-2026-12-db.sqlite"


async def _open(path: Path) -> Store:
    store = await Store.open(path, verify_processes=0)
    await store.set_owner(ME.public_key)
    return store


async def _texts(store: Store, words: str, **kw: object) -> list[str]:
    found = await store.search.posts(parse_query(words).match, limit=50, **kw)  # type: ignore[arg-type]
    return [e.content.text for _, e in found if isinstance(e.content, Post)]


def _indexed(path: Path, word: str) -> int:
    """Rows of `post_search` matching `word`, read from the index alone (no join)."""
    conn = sqlite3.connect(path)
    try:
        return int(conn.execute("SELECT count(*) FROM post_search WHERE post_search MATCH ?",
                                (word,)).fetchone()[0])
    finally:
        conn.close()


def _integrity(path: Path) -> None:
    """FTS5's own check of the index structure (raises if a delete left it inconsistent)."""
    conn = sqlite3.connect(path)
    try:
        conn.execute("INSERT INTO post_search (post_search, rank) VALUES ('integrity-check', 0)")
        conn.execute("INSERT INTO profile_search (profile_search) VALUES ('integrity-check')")
    finally:
        conn.close()


@pytest.mark.asyncio
async def test_ingest_and_append_index_text_cw_and_tags_newest_first(tmp_path: Path) -> None:
    store = await _open(tmp_path / "db")
    try:
        a = FeedBuilder(ALICE)
        a.post("Walking by the river this morning")
        a.post("a spoiler inside", cw="Café talk")
        a.post("nothing to see", tags=("Rust", "foo-bar"))
        await store.ingest(raw_entries(a.entries))
        await store.append(ME, Post(text="my own river walk"))
        assert await _texts(store, "river") == ["my own river walk",
                                                "Walking by the river this morning"]
        assert await _texts(store, "cafe") == ["a spoiler inside"]  # cw, without accents
        assert await _texts(store, "#rust") == ["nothing to see"]
        assert await _texts(store, "#foo-bar") == ["nothing to see"]
        assert await _texts(store, "#foo") == []  # a tag is matched whole
        assert await _texts(store, "riv*") == ["my own river walk",
                                               "Walking by the river this morning"]
        assert await _texts(store, '"river this"') == ["Walking by the river this morning"]
        assert await _texts(store, "river", author=ALICE.public_key) == [
            "Walking by the river this morning"]
        assert await _texts(store, "river", exclude={ALICE.public_key}) == ["my own river walk"]
    finally:
        await store.close()


@pytest.mark.asyncio
async def test_pages_go_backwards_by_rowid(tmp_path: Path) -> None:
    store = await _open(tmp_path / "db")
    try:
        a = FeedBuilder(ALICE)
        for i in range(5):
            a.post(f"coffee number {i}")
        await store.ingest(raw_entries(a.entries))
        match = parse_query("coffee").match
        first = await store.search.posts(match, limit=2)
        rest = await store.search.posts(match, limit=10, before=first[-1][0])
        assert [e.seq for _, e in first + rest] == [5, 4, 3, 2, 1]
    finally:
        await store.close()


@pytest.mark.asyncio
async def test_a_deleted_post_leaves_the_index_whenever_the_delete_arrives(
        tmp_path: Path) -> None:
    path = tmp_path / "db"
    store = await _open(path)
    try:
        a = FeedBuilder(ALICE)
        a.post("garden party today")
        early = a.post("garden secret one")
        await store.ingest(raw_entries(a.entries))
        late = a.post("garden secret two")
        a.delete(early)  # the target is held already
        a.delete(late)  # the target arrives in the same batch
        await store.ingest(raw_entries(a.entries[2:]))
        assert await _texts(store, "garden") == ["garden party today"]
        assert await _texts(store, "secret") == []
        b = FeedBuilder(BOB)
        gone = b.post("bob garden secret")
        b.delete(gone)
        await store.ingest(raw_entries(b.entries[1:]))  # the delete before its target
        await store.ingest(raw_entries(b.entries[:1]))
        assert await _texts(store, "secret") == []
    finally:
        await store.close()
    assert _indexed(path, "secret") == 0 and _indexed(path, "garden") == 1
    _integrity(path)


@pytest.mark.asyncio
async def test_profiles_follow_the_latest_about_and_its_delete(tmp_path: Path) -> None:
    path = tmp_path / "db"
    store = await _open(path)
    try:
        a = FeedBuilder(ALICE)
        a.about(name="Ana Lopez", bio="gardener in Sevilla")
        newer = a.about(name="Ana Torres")
        await store.ingest(raw_entries(a.entries))
        words = parse_query("torres").words
        assert words is not None
        assert await store.search.profiles(words, limit=5) == [ALICE.public_key]
        assert await store.search.profiles('"lopez"', limit=5) == []  # replaced
        assert await store.search.profiles('"sevilla"', limit=5) == [ALICE.public_key]
        assert await store.search.profiles('"sevilla"', limit=5,
                                           exclude={ALICE.public_key}) == []
        a.delete(newer)
        await store.ingest(raw_entries(a.entries[2:]))
        assert await store.search.profiles('"lopez"', limit=5) == [ALICE.public_key]
        assert await store.search.profiles(words, limit=5) == []
    finally:
        await store.close()
    _integrity(path)


@pytest.mark.asyncio
async def test_rebuild_projections_rebuilds_the_same_index(tmp_path: Path) -> None:
    path = tmp_path / "db"
    store = await _open(path)
    try:
        a = FeedBuilder(ALICE)
        a.about(name="Ana", bio="reads")
        a.post("library books", tags=("reading",))
        gone = a.post("library secret")
        a.delete(gone)
        await store.ingest(raw_entries(a.entries))
        before = (await _texts(store, "library"), await _texts(store, "#reading"),
                  await store.search.profiles('"ana"', limit=5))
        await store.rebuild_projections()
        after = (await _texts(store, "library"), await _texts(store, "#reading"),
                 await store.search.profiles('"ana"', limit=5))
        assert before == after == (["library books"], ["library books"], [ALICE.public_key])
    finally:
        await store.close()
    _integrity(path)


@pytest.mark.asyncio
async def test_a_release_2026_12_database_is_indexed_at_its_first_open(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    shutil.copyfile(FIXTURE, path)
    store = await Store.open(path, verify_processes=0)
    try:
        assert await _texts(store, "release") == ["alice's first post, tagged",
                                                  "hello from the old release"]
        assert await _texts(store, "#release") == ["alice's first post, tagged"]
        assert await _texts(store, "deletes") == []  # bob deleted it before the upgrade
        me = store.owner
        assert me is not None
        assert await store.search.profiles('"release"', limit=5) == [me]
    finally:
        await store.close()
    _integrity(path)
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("SELECT version FROM projection_versions WHERE name = 'search'"
                            ).fetchone() == (search.SEARCH_VERSION,)
    finally:
        conn.close()


@pytest.mark.asyncio
async def test_the_index_is_built_once_not_at_every_open(tmp_path: Path) -> None:
    path = tmp_path / "db"
    store = await _open(path)
    a = FeedBuilder(ALICE)
    a.post("only once")
    await store.ingest(raw_entries(a.entries))
    await store.close()
    conn = sqlite3.connect(path)
    conn.execute("INSERT INTO post_search (post_search) VALUES ('delete-all')")  # a marker
    conn.commit()
    conn.close()
    again = await Store.open(path, verify_processes=0)
    try:
        assert await _texts(again, "once") == []  # not rebuilt: the version matched
    finally:
        await again.close()
    conn = sqlite3.connect(path)
    conn.execute("UPDATE projection_versions SET version = 0")  # an older index definition
    conn.commit()
    conn.close()
    third = await Store.open(path, verify_processes=0)
    try:
        assert await _texts(third, "once") == ["only once"]
    finally:
        await third.close()


def test_tag_match_is_the_tag_between_marks() -> None:
    assert tag_match("#Rust") == f'tags : "{tags_column(("Rust",))}"'
