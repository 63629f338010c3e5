"""Reactions and reposts count once per author, and a delete undoes them (real SQLite).

Entries are received from others (ingest), so the rules hold whoever wrote them: an author
who reacts ❤ three times counts once, a repost posted twice shows once on the timeline, and a
reaction or repost its author deleted stops counting, in whichever order they arrive.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from p2psocial.store.sqlite import Store
from p2psocial.testing import FeedBuilder, identity_for, raw_entries

ME = identity_for("counts-me")
ALICE = identity_for("counts-alice")
BOB = identity_for("counts-bob")


@pytest_asyncio.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    s = await Store.open(tmp_path / "db")
    await s.set_owner(ME.public_key)
    yield s
    await s.close()


@pytest.mark.asyncio
async def test_one_authors_repeated_reactions_count_once(store: Store) -> None:
    alice, bob = FeedBuilder(ALICE), FeedBuilder(BOB)
    post = alice.post("hello")
    for _ in range(3):
        bob.react(post, "❤")
    bob.react(post, "🔥")
    alice.react(post, "❤")
    await store.ingest(raw_entries(alice.entries + bob.entries))
    counts = (await store.counts([post.hash]))[post.hash]
    assert counts.reactions == {"❤": 2, "🔥": 1}


@pytest.mark.asyncio
async def test_one_authors_repeated_reposts_count_once_and_show_once(store: Store) -> None:
    me, alice, bob = FeedBuilder(ME), FeedBuilder(ALICE), FeedBuilder(BOB)
    post = alice.post("hello")
    bob.repost(post)
    bob.repost(post)
    alice.repost(post)
    me.follow(BOB.public_key)
    await store.ingest(raw_entries(me.entries + alice.entries + bob.entries))
    assert (await store.counts([post.hash]))[post.hash].reposts == 2
    shown = [i.entry.hash for i in await store.timeline(ME.public_key)]
    assert shown == [bob.entries[0].hash]


@pytest.mark.asyncio
async def test_a_deleted_reaction_or_repost_stops_counting_in_any_order(store: Store
                                                                        ) -> None:
    me, alice, bob = FeedBuilder(ME), FeedBuilder(ALICE), FeedBuilder(BOB)
    me.follow(BOB.public_key)
    post = alice.post("hello")
    react, repost = bob.react(post, "❤"), bob.repost(post)
    bob.delete(react)
    bob.delete(repost)
    await store.ingest(raw_entries(me.entries + alice.entries))
    await store.ingest(raw_entries(bob.entries[2:]))  # the deletes first
    await store.ingest(raw_entries(bob.entries[:2]))
    counts = (await store.counts([post.hash]))[post.hash]
    assert (counts.reactions, counts.reposts) == ({}, 0)
    assert await store.timeline(ME.public_key) == []
    assert await store.notifications(ALICE.public_key) == []


@pytest.mark.asyncio
async def test_repeated_reactions_notify_once(store: Store) -> None:
    me, alice = FeedBuilder(ME), FeedBuilder(ALICE)
    mine = me.post("mine")
    alice.react(mine, "❤")
    alice.react(mine, "❤")
    alice.repost(mine)
    alice.repost(mine)
    await store.ingest(raw_entries(me.entries + alice.entries))
    kinds = sorted(n.kind for n in await store.notifications(ME.public_key))
    assert kinds == ["react", "repost"]


@pytest.mark.asyncio
async def test_my_links_lists_my_live_reactions_and_reposts(store: Store) -> None:
    me, alice = FeedBuilder(ME), FeedBuilder(ALICE)
    post, other = alice.post("one"), alice.post("two")
    heart = me.react(post, "❤")
    me.react(post, "🔥")
    me.repost(other)
    me.delete(heart)
    alice.react(other, "❤")
    await store.ingest(raw_entries(alice.entries + me.entries))
    found = await store.links_by(ME.public_key, [post.hash, other.hash])
    assert sorted((t, rel, extra) for t, rel, extra, _ in found) == sorted(
        [(post.hash, "react", "🔥"), (other.hash, "repost", None)])
