"""Store reads added for the UI: entries by hash, and notifications (real SQLite)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from p2psocial.core.content import Post
from p2psocial.store.sqlite import Store
from p2psocial.testing import FeedBuilder, identity_for, raw_entries

ME = identity_for("notified")
ALICE = identity_for("notifier-alice")
BOB = identity_for("notifier-bob")


@pytest_asyncio.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    s = await Store.open(tmp_path / "db")
    await s.set_owner(ME.public_key)
    yield s
    await s.close()


@pytest.mark.asyncio
async def test_get_many_returns_held_entries_by_hash(store: Store) -> None:
    alice = FeedBuilder(ALICE)
    first, second = alice.post("one"), alice.post("two")
    await store.ingest(raw_entries(alice.entries))
    found = await store.get_many([second.hash, b"\0" * 32, first.hash, first.hash])
    assert set(found) == {first.hash, second.hash}
    assert found[second.hash].header == second.header


@pytest.mark.asyncio
async def test_notifications_cover_every_kind_newest_first(store: Store) -> None:
    me = FeedBuilder(ME)
    mine = me.post("my post")
    alice, bob = FeedBuilder(ALICE, start_ts=me.last.timestamp + 1000), FeedBuilder(
        BOB, start_ts=me.last.timestamp + 500)
    alice.post("hi me", mentions=(ME.public_key,))
    alice.reply(mine, "a reply that also mentions me")
    bob.react(mine, "🔥")
    bob.repost(mine)
    bob.follow(ME.public_key)
    bob.post("quoting you", quote=mine.hash)
    await store.ingest(raw_entries(me.entries + alice.entries + bob.entries))
    items = await store.notifications(ME.public_key)
    kinds = [n.kind for n in items]
    assert sorted(kinds) == ["follow", "mention", "quote", "react", "reply", "repost"]
    stamps = [n.sort_ts for n in items]
    assert stamps == sorted(stamps, reverse=True)
    targets = {n.kind: n.target for n in items}
    assert targets["reply"] == targets["react"] == targets["quote"] == mine.hash
    assert targets["mention"] is None and targets["follow"] is None
    page = await store.notifications(ME.public_key, limit=2)
    rest = await store.notifications(ME.public_key, before=page[-1].cursor)
    assert [n.entry.hash for n in page + rest] == [n.entry.hash for n in items]


@pytest.mark.asyncio
async def test_a_reply_mentioning_me_is_listed_once(store: Store) -> None:
    mine = await store.append(ME, Post(text="root"))
    alice = FeedBuilder(ALICE)
    alice.post(f"@{ME.handle} replying", root=mine.hash, parent=mine.hash,
               mentions=(ME.public_key,))
    await store.ingest(raw_entries(alice.entries))
    assert [n.kind for n in await store.notifications(ME.public_key)] == ["reply"]


@pytest.mark.asyncio
async def test_notifications_leave_out_my_own_blocked_feeds_and_unfollows(store: Store
                                                                          ) -> None:
    me = FeedBuilder(ME)
    mine = me.post("mine")
    me.react(mine, "❤")  # reacting to myself is no notification
    me.block(BOB.public_key)
    alice, bob = FeedBuilder(ALICE), FeedBuilder(BOB)
    alice.follow(ME.public_key)
    alice.unfollow(ME.public_key)
    bob.react(mine, "👎")
    await store.ingest(raw_entries(me.entries + alice.entries))
    await store.ingest(raw_entries(bob.entries))  # refused: blocked
    assert await store.notifications(ME.public_key) == []
