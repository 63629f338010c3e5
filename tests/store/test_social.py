"""Mutes, bookmarks, and followers/following by account in the store (real SQLite files).

ME follows ALICE and BOB; accounts are made with core.account.ops as in test_accounts.py.
"""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from p2psocial.core.account.ops import Op, OpType, consent_for, make_op
from p2psocial.core.content import Follow, Post
from p2psocial.core.errors import UsageError
from p2psocial.core.identity import Identity
from p2psocial.core.mutes import MAX_WORD_CHARS, WordFilter, normalise_word
from p2psocial.store.connection import APPLICATION_ID, migrations
from p2psocial.store.sqlite import Store
from p2psocial.testing import FeedBuilder, identity_for, raw_entries
from p2psocial.testing.builders import BASE_TS

ME = identity_for("social-me")
ALICE = identity_for("social-alice")
BOB = identity_for("social-bob")
CAROL = identity_for("social-carol")
ACC = identity_for("social-account")
REC = identity_for("social-recovery")
PHONE = identity_for("social-phone")
LAPTOP = identity_for("social-laptop")


@pytest_asyncio.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    s = await Store.open(tmp_path / "db", verify_processes=0)
    await s.set_owner(ME.public_key)
    yield s
    await s.close()


async def receive(store: Store, *builders: FeedBuilder) -> None:
    for b in builders:
        report = await store.ingest(raw_entries(b.entries))
        assert report.ok and len(report.accepted) == len(b.entries), report


async def texts(store: Store, limit: int = 50) -> list[str]:
    out = []
    for item in await store.timeline(ME.public_key, limit=limit):
        content = item.entry.content
        out.append(content.text if isinstance(content, Post) else f"repost:{item.entry.seq}")
    return out


def account_ops(*devices: Identity) -> list[Op]:
    first = make_op(ACC, account=ACC.public_key, op_type=OpType.INIT, key=REC.public_key,
                    timestamp=BASE_TS)
    ops, prev = [first], first
    for i, device in enumerate(devices):
        prev = make_op(ACC, account=ACC.public_key, op_type=OpType.ADD, key=device.public_key,
                       timestamp=BASE_TS + 1 + i, prev=prev.hash,
                       consent=consent_for(device, ACC.public_key, OpType.ADD),
                       name=device.handle[-6:])
        ops.append(prev)
    return ops


# --- words (pure) ---------------------------------------------------------------------------


def test_a_muted_word_is_folded_and_matches_whole_words_only() -> None:
    assert normalise_word("  Game\tof  THRONES ") == "game of thrones"
    words = WordFilter(["cat", "#tv", "game of thrones"])
    assert words.hides_text("My CAT!") and words.hides_text("#cat pics")
    assert not words.hides_text("category theory") and not words.hides_text("concat")
    assert words.hides_text("watching #TV") and not words.hides_text("watching tv")
    assert words.hides_text("Game  of\nThrones spoilers")
    assert words.hides_post(Post(text="nothing", tags=("cat",)))
    assert words.hides_post(Post(text="nothing", cw="cat content"))
    assert not WordFilter([]).hides_text("anything") and not WordFilter([])


@pytest.mark.parametrize("word", ["", "   ", "x" * (MAX_WORD_CHARS + 1)])
def test_an_empty_or_too_long_word_is_refused(word: str) -> None:
    with pytest.raises(UsageError):
        normalise_word(word)


# --- mutes ----------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_a_muted_accounts_posts_and_reposts_of_them_leave_the_timeline(
        store: Store) -> None:
    alice, bob = FeedBuilder(ALICE), FeedBuilder(BOB, start_ts=BASE_TS + 500)
    loud = alice.post("alice speaks")
    bob.post("bob speaks")
    bob.repost(loud)
    await store.append(ME, Follow(feed=ALICE.public_key))
    await store.append(ME, Follow(feed=BOB.public_key))
    await receive(store, alice, bob)
    assert len(await texts(store)) == 3
    assert await store.mutes.mute_account(ALICE.public_key)
    assert not await store.mutes.mute_account(ALICE.public_key)  # once
    assert await texts(store) == ["bob speaks"]
    assert await store.count_entries(ALICE.public_key) == 1  # muting is not blocking
    alice.post("alice again")
    report = await store.ingest(raw_entries(alice.entries[-1:]))
    assert report.ok and len(report.accepted) == 1  # still replicated
    assert await store.mutes.unmute_account(ALICE.public_key)
    assert "alice again" in await texts(store)


@pytest.mark.asyncio
async def test_a_muted_word_hides_posts_and_reposts_and_pages_still_fill(
        store: Store) -> None:
    alice = FeedBuilder(ALICE)
    for i in range(30):
        alice.post(f"spoilers {i}" if i % 3 else f"fine {i}")
    spoiled = alice.post("SPOILERS ahead")
    alice.post("clean", tags=("spoilers",))
    bob = FeedBuilder(BOB, start_ts=alice.last.timestamp + 1000)
    bob.repost(spoiled)
    bob.post("a spoilerslike word is not the word")
    await store.append(ME, Follow(feed=ALICE.public_key))
    await store.append(ME, Follow(feed=BOB.public_key))
    await receive(store, alice, bob)
    await store.mutes.mute_word("Spoilers")
    first = await store.timeline(ME.public_key, limit=4)
    assert len(first) == 4
    rest = await store.timeline(ME.public_key, limit=100, before=first[-1].cursor)
    shown = [i.entry.content.text for i in first + rest if isinstance(i.entry.content, Post)]
    assert shown == ["a spoilerslike word is not the word",
                     *[f"fine {i}" for i in range(27, -1, -3)]]
    assert len(first + rest) == len(shown)  # the repost of a spoiled post is hidden too
    # a profile view is what the user asked for: mutes do not apply
    assert len(await store.timeline(ME.public_key, limit=100,
                                    authors=[ALICE.public_key])) == 32


@pytest.mark.asyncio
async def test_mutes_hide_notifications_and_survive_reopening(tmp_path: Path) -> None:
    store = await Store.open(tmp_path / "db", verify_processes=0)
    await store.set_owner(ME.public_key)
    mine = await store.append(ME, Post(text="my post"))
    alice, bob = FeedBuilder(ALICE), FeedBuilder(BOB)
    alice.reply(mine, "a reply from alice")
    alice.follow(ME.public_key)
    bob.post(f"@{ME.handle} about the election", mentions=(ME.public_key,))
    bob.post(f"@{ME.handle} about cats", mentions=(ME.public_key,))
    await receive(store, alice, bob)
    assert len(await store.notifications(ME.public_key)) == 4
    await store.mutes.mute_account(ALICE.public_key)
    await store.mutes.mute_word("election")
    await store.close()
    store = await Store.open(tmp_path / "db", verify_processes=0)
    try:
        left = await store.notifications(ME.public_key)
        assert [(n.kind, n.entry.author) for n in left] == [("mention", BOB.public_key)]
        assert {(m.account, m.word) for m in await store.mutes.list()} == {
            (ALICE.public_key, None), (None, "election")}
        assert await store.mutes.unmute_word(" ELECTION ")
        assert not await store.mutes.unmute_word("election")
        assert len(await store.notifications(ME.public_key)) == 2
    finally:
        await store.close()


@pytest.mark.asyncio
async def test_muting_an_account_mutes_each_of_its_devices(store: Store) -> None:
    await store.accounts.add_ops(account_ops(PHONE))
    await store.append(ME, Follow(feed=ACC.public_key))
    phone, bob = FeedBuilder(PHONE), FeedBuilder(BOB)
    phone.post("from the account's phone")
    bob.post("bob")
    await store.append(ME, Follow(feed=BOB.public_key))
    await receive(store, phone, bob)
    assert sorted(await texts(store)) == ["bob", "from the account's phone"]
    await store.mutes.mute_account(ACC.public_key)
    assert await texts(store) == ["bob"]


# --- bookmarks ------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_bookmarks_are_listed_newest_first_once_each(store: Store) -> None:
    one = await store.append(ME, Post(text="one"))
    two = await store.append(ME, Post(text="two"))
    assert await store.bookmarks.add(one.hash)
    assert await store.bookmarks.add(two.hash)
    assert not await store.bookmarks.add(one.hash)
    assert [h for h, _ in await store.bookmarks.list()] in ([two.hash, one.hash],
                                                             [one.hash, two.hash])
    listed = await store.bookmarks.list()
    assert listed[0][1] >= listed[1][1]
    assert await store.bookmarks.remove(one.hash) and not await store.bookmarks.remove(one.hash)
    assert [h for h, _ in await store.bookmarks.list()] == [two.hash]
    await store.rebuild_projections()  # local choices, not projections: kept
    assert await store.bookmarks.has(two.hash)


# --- followers and following ----------------------------------------------------------------


@pytest.mark.asyncio
async def test_followers_and_following_of_single_key_feeds(store: Store) -> None:
    alice, bob, carol = FeedBuilder(ALICE), FeedBuilder(BOB), FeedBuilder(CAROL)
    alice.follow(ME.public_key)
    bob.follow(ME.public_key)
    bob.unfollow(ME.public_key)
    carol.follow(ME.public_key)
    carol.block(ME.public_key)  # a follower that blocks me follows me no more
    await store.append(ME, Follow(feed=ALICE.public_key))
    await receive(store, alice, bob, carol)
    assert await store.social.followers(ME.public_key) == [ALICE.public_key]
    assert await store.social.following(ME.public_key) == [ALICE.public_key]
    assert await store.social.followers(ALICE.public_key) == [ME.public_key]
    assert await store.social.following(BOB.public_key) == []


@pytest.mark.asyncio
async def test_an_accounts_devices_count_as_one_follower_and_one_followed(
        store: Store) -> None:
    await store.accounts.add_ops(account_ops(PHONE, LAPTOP))
    phone, laptop = FeedBuilder(PHONE), FeedBuilder(LAPTOP, start_ts=BASE_TS + 10_000)
    phone.follow(ME.public_key)
    laptop.follow(ME.public_key)
    laptop.follow(ALICE.public_key)
    await store.append(ME, Follow(feed=PHONE.public_key))  # a device stands for its account
    await receive(store, phone, laptop)
    assert await store.social.followers(ME.public_key) == [ACC.public_key]
    assert await store.social.following(LAPTOP.public_key) == sorted(
        [ME.public_key, ALICE.public_key])
    assert await store.social.following(ME.public_key) == [ACC.public_key]
    assert await store.social.followers(PHONE.public_key) == [ME.public_key]
    # the laptop unfollows later: the account's latest follow decides (S9), across devices
    laptop.unfollow(ME.public_key)
    await store.ingest(raw_entries(laptop.entries[-1:]))
    assert await store.social.followers(ME.public_key) == []


# --- migration ------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_migration_5_applies_on_a_database_of_schema_4_and_again_harmlessly(
        tmp_path: Path) -> None:
    path = tmp_path / "db"
    conn = sqlite3.connect(path)  # as a release before 0005 left it
    conn.execute(f"PRAGMA application_id={APPLICATION_ID}")
    for version, sql in migrations():
        if version <= 4:
            conn.executescript(sql)
    conn.execute("PRAGMA user_version=4")
    conn.close()
    store = await Store.open(path, verify_processes=0)
    try:
        assert await store.mutes.mute_word("again")
    finally:
        await store.close()
    five = dict(migrations())[5]
    conn = sqlite3.connect(path)
    try:
        conn.executescript(five)  # written to be harmless if ever applied twice
        assert conn.execute("SELECT word FROM muted_words").fetchall() == [("again",)]
    finally:
        conn.close()
