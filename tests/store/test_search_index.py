"""The search projections (store/search.py) on real SQLite files: kept by ingest and append in
the entries' transaction, left by deleted payloads, rebuilt, and built for an old database."""

from __future__ import annotations

import functools
import shutil
import sqlite3
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from p2psocial.core.content import Post
from p2psocial.core.errors import UsageError
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
        assert await _texts(store, "river", authors={ALICE.public_key: None}) == [
            "Walking by the river this morning"]
        assert await _texts(store, "river", exclude={ALICE.public_key}) == ["my own river walk"]
    finally:
        await store.close()


@pytest.mark.asyncio
async def test_pages_go_backwards_by_key(tmp_path: Path) -> None:
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
        # newest first by time: alice's post was stored later, but written earlier
        assert await _texts(store, "release") == ["hello from the old release",
                                                  "alice's first post, tagged"]
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


@pytest.mark.asyncio
async def test_a_search_of_one_author_is_narrowed_by_its_token_which_no_word_matches(
        tmp_path: Path) -> None:
    store = await _open(tmp_path / "db")
    try:
        a, b = FeedBuilder(ALICE), FeedBuilder(BOB)
        for i in range(30):
            b.post(f"bob on tea, number {i}")
        a.post("alice on tea")
        await store.ingest(raw_entries(a.entries + b.entries))
        assert await _texts(store, "tea", authors={ALICE.public_key: None}) == ["alice on tea"]
        # a person's feeds, each up to the seq it counts to (a revoked device's cut)
        assert await _texts(store, "tea", authors={BOB.public_key: 2, ALICE.public_key: None}
                            ) == ["bob on tea, number 1", "bob on tea, number 0", "alice on tea"]
        assert await _texts(store, "tea", authors={}) == []  # a person with no counted feed
        token = search.author_token(ALICE.public_key)
        assert await _texts(store, token) == []  # the author column is not searched
        assert await _texts(store, token[:4] + "*") == []
    finally:
        await store.close()
    assert _indexed(tmp_path / "db", f'author : "{token}"') == 1


@pytest.mark.asyncio
async def test_an_index_of_an_older_definition_is_made_again_at_open(tmp_path: Path) -> None:
    """A database indexed by version 1 (migration 0004's tables, no author column) gets
    this version's tables, filled, at its next open."""
    path = tmp_path / "db"
    store = await _open(path)
    a = FeedBuilder(ALICE)
    a.about(name="Ana")
    a.post("old index, new definition")
    await store.ingest(raw_entries(a.entries))
    await store.close()
    conn = sqlite3.connect(path)
    conn.executescript(
        "DROP TABLE post_search; DROP TABLE profile_search;"
        "CREATE VIRTUAL TABLE post_search USING fts5(text, cw, tags, content = '',"
        " tokenize = 'unicode61 remove_diacritics 2');"
        "CREATE VIRTUAL TABLE profile_search USING fts5(author UNINDEXED, name, bio,"
        " tokenize = 'unicode61 remove_diacritics 2');"
        "UPDATE projection_versions SET version = 1 WHERE name = 'search';")
    conn.close()
    again = await Store.open(path, verify_processes=0)
    try:
        assert await _texts(again, "definition", authors={ALICE.public_key: None}) == [
            "old index, new definition"]
        assert await again.search.profiles('"ana"', limit=5) == [ALICE.public_key]
    finally:
        await again.close()
    _integrity(path)


def test_tag_match_is_the_tag_between_marks() -> None:
    assert tag_match("#Rust") == f'tags : "{tags_column(("Rust",))}"'


# --- what the user types never reaches FTS5 as syntax ----------------------------------------

_FTS_CHARS = st.sampled_from([*'"*#:()^-+{}[],.\'@_ \t\nAaNnDdOoRrTtEeI9', "AND", "OR", "NOT",
                              "NEAR", "é", "ß", "🎉", "\u0301", "\x00"])


@functools.cache
def _fts_table() -> sqlite3.Connection:
    """An in-memory database with this version's search tables (one per test process)."""
    conn = sqlite3.connect(":memory:", check_same_thread=False)
    conn.execute(search.POST_SEARCH)
    conn.execute(search.PROFILE_SEARCH)
    conn.execute("INSERT INTO post_search (rowid, text, cw, tags, author) VALUES "
                 "(1, 'and or not near', 'x', 'xtagx a xtagx', ?)",
                 (search.author_token(ALICE.public_key),))
    return conn


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(max_size=60), st.lists(_FTS_CHARS, max_size=30).map("".join)))
def test_any_text_is_a_valid_fts5_query_or_one_usage_error(text: str) -> None:
    conn = _fts_table()
    try:
        query = parse_query(text)
    except UsageError as exc:
        assert "\n" not in str(exc)
        return
    conn.execute("SELECT rowid FROM post_search WHERE post_search MATCH ?",
                 (search.posts_match(query.match, [ALICE.public_key, BOB.public_key]),)).fetchall()
    if query.words is not None:
        conn.execute("SELECT rowid FROM profile_search WHERE profile_search MATCH ?",
                     (query.words,)).fetchall()


@settings(max_examples=150, deadline=None)
@given(st.one_of(st.text(max_size=70), st.lists(_FTS_CHARS, max_size=20).map("".join)))
def test_any_tag_is_a_valid_fts5_query_or_one_usage_error(tag: str) -> None:
    try:
        match = tag_match(tag)
    except UsageError as exc:
        assert "\n" not in str(exc)
        return
    _fts_table().execute("SELECT rowid FROM post_search WHERE post_search MATCH ?",
                         (search.posts_match(match),)).fetchall()


@pytest.mark.asyncio
async def test_a_feed_received_newest_first_is_found_newest_first_and_pages_once(
        tmp_path: Path) -> None:
    """Backfill stores a feed's newest pages first (so its rowids run downwards): results
    still come newest first by the posts' time, and paging returns every post once."""
    store = await _open(tmp_path / "db")
    try:
        a = FeedBuilder(ALICE)
        for i in range(10):
            a.post(f"tea number {i}")
        for top in range(10, 0, -2):  # pages of 2, newest page first: 9-10, 7-8, ...
            assert (await store.ingest(raw_entries(a.entries[top - 2:top][::-1]))).ok
        await store.append(ME, Post(text="tea of my own, just now"))
        match = parse_query("tea").match
        assert [e.seq for _, e in (await store.search.posts(match, limit=20))
                if e.author == ALICE.public_key] == list(range(10, 0, -1))
        assert (await store.search.posts(match, limit=1))[0][1].author == ME.public_key
        seen: list[tuple[bytes, int]] = []
        page = await store.search.posts(match, limit=3)
        while page:
            seen.extend((e.author, e.seq) for _, e in page)
            page = await store.search.posts(match, limit=3, before=page[-1][0])
        assert seen == [(ME.public_key, 1)] + [(ALICE.public_key, s) for s in range(10, 0, -1)]
    finally:
        await store.close()
