"""The storage budget on a real store and real blob files (runtime/storage_keeper.py): a
home filled past its budget ends within it, and what survives is what the documented order
keeps: mine, my bookmarks, near hops before far, new before old; every feed still verifies.
A feed no longer wanted leaves after its grace period, unless I bookmarked something of it."""

from __future__ import annotations

import os
import sqlite3
import time
from pathlib import Path

import pytest

from p2psocial.core.blobs import manifest_of
from p2psocial.core.content import Attachment, Post
from p2psocial.core.wants import Want
from p2psocial.runtime.service import Service
from p2psocial.runtime.storage_keeper import ORPHAN_GRACE_SECONDS, StorageKeeper, disk_usage
from p2psocial.store.blobs import BlobStore
from p2psocial.store.search import author_token
from p2psocial.store.sqlite import Store
from p2psocial.testing import identity_for
from p2psocial.testing.builders import FeedBuilder, prose, raw_entries

ME = identity_for("keeper-me")
NEAR = identity_for("keeper-near")  # hop 1
FAR = identity_for("keeper-far")  # hop 2
GONE = identity_for("keeper-gone")  # held, no longer wanted
DAY = 86_400_000
pytestmark = pytest.mark.asyncio


def feed_with_pictures(who: object, blobs: BlobStore, posts: int, pictures: int,
                       start: int) -> list:
    builder = FeedBuilder(who, start_ts=start)  # type: ignore[arg-type]
    for i in range(posts):
        attachments: tuple[Attachment, ...] = ()
        if i < pictures:
            manifest = blobs.add_bytes(os.urandom(100_000))
            attachments = (Attachment(manifest.id, manifest.size, "image/png", alt=f"p{i}"),)
        builder.add(Post(text=prose(200, f"{i}"), attachments=attachments))
    return builder.entries


async def home(tmp_path: Path) -> tuple[Store, BlobStore, Service, dict]:
    store = await Store.open(tmp_path / "db", verify_processes=0)
    await store.set_owner(ME.public_key)
    blobs = BlobStore(tmp_path / "blobs")
    service = Service(store, ME.public_key, lambda: ME)
    service.blob_store = blobs
    feeds = {}
    for who, posts, pictures, start in ((NEAR, 300, 6, 1_760_000_000_000),
                                        (FAR, 300, 6, 1_750_000_000_000),
                                        (GONE, 50, 1, 1_740_000_000_000)):
        entries = feed_with_pictures(who, blobs, posts, pictures, start)
        await store.ingest(raw_entries(entries))
        feeds[who.public_key] = entries
    return store, blobs, service, feeds


def wants() -> dict[bytes, Want]:
    return {ME.public_key: Want(0, 0), NEAR.public_key: Want(1, 0),
            FAR.public_key: Want(2, 0)}


async def test_a_home_over_its_budget_ends_within_it_keeping_the_right_things(
        tmp_path: Path) -> None:
    store, blobs, service, feeds = await home(tmp_path)
    try:
        picture = tmp_path / "mine.bin"
        picture.write_bytes(os.urandom(150_000))
        await service.post("my own picture", attach=[[str(picture), None]])
        for i in range(20):
            await service.post(prose(200, f"mine {i}"))
        kept_far = feeds[FAR.public_key][3]  # a far post with a picture, bookmarked
        await store.bookmarks.add(kept_far.hash)
        before = disk_usage(store, blobs)
        keeper = StorageKeeper(store, blobs, budget=before - 1_200_000, grace_ms=7 * DAY,
                               wants=wants, mine=lambda: {ME.public_key})
        plan = await keeper.plan()
        assert plan.blobs and disk_usage(store, blobs) == before  # a plan changes nothing

        report = await keeper.prune()
        assert report.after <= keeper.budget, report
        assert report.compacted
        mine = await store.raw_range(ME.public_key, 1, 21)
        assert all(payload is not None for _s, _h, payload in mine)
        assert blobs.has(manifest_of(picture.read_bytes()).id)
        assert blobs.has(kept_far.content.attachments[0].blob)  # bookmarked: kept
        assert (await store.get(kept_far.hash)).payload is not None
        near_pictures = [e.content.attachments[0].blob for e in feeds[NEAR.public_key][:6]]
        far_pictures = [e.content.attachments[0].blob for e in feeds[FAR.public_key][:6]]
        # far before near: far pictures (but the bookmarked one) went first
        assert sum(blobs.has(b) for b in far_pictures) == 1
        assert sum(blobs.has(b) for b in near_pictures) >= \
            sum(blobs.has(b) for b in far_pictures)
        for feed in (ME, NEAR, FAR):
            report_v = await service.verify(feed.handle)
            assert report_v.ok, report_v
    finally:
        await store.close()


async def test_far_payloads_go_oldest_first_before_any_near_one(tmp_path: Path) -> None:
    store, blobs, service, _feeds = await home(tmp_path)
    try:
        for blob, _size in list(blobs.whole()):
            blobs.remove(blob)  # payloads only
        before = disk_usage(store, blobs)
        keeper = StorageKeeper(store, blobs, budget=before - 20_000, grace_ms=7 * DAY,
                               wants=wants, mine=lambda: {ME.public_key})
        report = await keeper.prune()
        assert report.payloads > 0 and report.by_hop.keys() <= {"hop 2", "not wanted"}
        far = await store.raw_range(FAR.public_key, 1, 300)
        dropped = [i for i, (_s, _h, p) in enumerate(far) if p is None]
        assert dropped == list(range(len(dropped)))  # the oldest, in order
        assert all(p is not None for _s, _h, p in await store.raw_range(NEAR.public_key, 1, 300))
        assert (await service.verify(FAR.handle)).ok
    finally:
        await store.close()


async def test_a_feed_no_longer_wanted_leaves_after_its_grace(tmp_path: Path) -> None:
    store, blobs, _service, feeds = await home(tmp_path)
    try:
        keeper = StorageKeeper(store, blobs, budget=0, grace_ms=7 * DAY, wants=wants,
                               mine=lambda: {ME.public_key})
        now = 1_900_000_000_000
        assert (await keeper.prune(now)).feeds_purged == 0  # noted, not gone
        assert (await keeper.prune(now + 7 * DAY - 1)).feeds_purged == 0
        report = await keeper.prune(now + 7 * DAY)
        assert report.feeds_purged == 1 and report.entries_purged == 50
        assert await store.raw_range(GONE.public_key, 1, 50) == []
        assert GONE.public_key not in await store.pruning.held_feeds()
        with sqlite3.connect(tmp_path / "db") as db:
            token = author_token(GONE.public_key)
            [(left,)] = db.execute("SELECT count(*) FROM post_search WHERE post_search MATCH ?",
                                   (f'author : "{token}"',)).fetchall()
            [(near,)] = db.execute("SELECT count(*) FROM post_search WHERE post_search MATCH ?",
                                   (f'author : "{author_token(NEAR.public_key)}"',)).fetchall()
        assert left == 0 and near == 300
        # wanted again before the grace ran out: the clock starts again when it leaves
        bookmarked = feeds[FAR.public_key][10]
        await store.bookmarks.add(bookmarked.hash)
        only_near = {ME.public_key: Want(0, 0), NEAR.public_key: Want(1, 0)}
        keeper = StorageKeeper(store, blobs, budget=0, grace_ms=7 * DAY,
                               wants=lambda: only_near, mine=lambda: {ME.public_key})
        await keeper.prune(now)
        assert (await keeper.prune(now + 8 * DAY)).feeds_purged == 0  # a bookmark holds it
        assert (await store.get(bookmarked.hash)) is not None
    finally:
        await store.close()


async def test_a_relay_keeps_each_members_newest_files_within_its_quota(tmp_path: Path
                                                                        ) -> None:
    store, blobs, _service, feeds = await home(tmp_path)
    try:
        keeper = StorageKeeper(store, blobs, budget=0, grace_ms=7 * DAY, wants=wants,
                               mine=lambda: {ME.public_key},
                               member_feeds=lambda: {NEAR.public_key, FAR.public_key},
                               member_blob_bytes=350_000)
        marked = feeds[FAR.public_key][0]  # FAR's oldest picture, bookmarked by the owner
        await store.bookmarks.add(marked.hash)
        report = await keeper.prune()
        for who in (NEAR, FAR):
            pictures = [e.content.attachments[0].blob for e in feeds[who.public_key][:6]]
            held = [blobs.has(b) for b in pictures]  # oldest first
            if who is NEAR:
                assert held == [False, False, False, True, True, True]
            else:
                assert held == [True, False, False, True, True, True]
        assert report.blobs == 5 and report.by_hop == {"over a member's quota": 500_000}
        gone = feeds[GONE.public_key][0].content.attachments[0].blob
        assert blobs.has(gone)  # not a member: no member quota
    finally:
        await store.close()


async def test_a_smaller_older_file_still_fits_a_members_quota(tmp_path: Path) -> None:
    store = await Store.open(tmp_path / "db", verify_processes=0)
    try:
        blobs = BlobStore(tmp_path / "blobs")
        member = identity_for("keeper-member")
        builder = FeedBuilder(member, start_ts=1_700_000_000_000)
        files = []
        for size in (50_000, 100_000, 200_000):  # oldest first
            manifest = blobs.add_bytes(os.urandom(size))
            files.append(manifest.id)
            builder.add(Post(text=f"{size} bytes", attachments=(
                Attachment(manifest.id, size, "application/octet-stream"),)))
        await store.ingest(raw_entries(builder.entries))
        keeper = StorageKeeper(store, blobs, budget=0, grace_ms=7 * DAY,
                               wants=lambda: {member.public_key: Want(1, 0)},
                               mine=lambda: {ME.public_key},
                               member_feeds=lambda: {member.public_key},
                               member_blob_bytes=260_000)
        await keeper.prune()
        # newest first: 200 kB kept; 100 kB would pass 260 kB and goes; 50 kB still fits
        assert [blobs.has(b) for b in files] == [True, False, True]
    finally:
        await store.close()


async def test_a_file_no_post_names_leaves_after_a_day_without_any_budget(tmp_path: Path
                                                                          ) -> None:
    """A picture copied for a post that was then refused, or whose post was deleted, is
    named by nothing: with no budget it would stay for good. A pass removes it once it is a
    day old (ORPHAN_GRACE_SECONDS); a named file, and an unnamed one just made (a post about
    to name it), stay."""
    store, blobs, _service, feeds = await home(tmp_path)
    try:
        old = blobs.add_bytes(os.urandom(30_000)).id
        fresh = blobs.add_bytes(os.urandom(20_000)).id
        day_ago = blobs.path(old).stat().st_mtime - ORPHAN_GRACE_SECONDS - 60
        os.utime(blobs.path(old), (day_ago, day_ago))
        keeper = StorageKeeper(store, blobs, budget=0, grace_ms=7 * DAY, wants=wants,
                               mine=lambda: {ME.public_key})
        report = await keeper.prune()
        assert not blobs.has(old) and blobs.has(fresh)
        assert report.blobs == 1 and report.by_hop == {"unnamed": 30_000}
        named = [e.content.attachments[0].blob for f in feeds.values() for e in f
                 if e.content.attachments]
        assert named and all(blobs.has(b) for b in named)
    finally:
        await store.close()


async def test_a_picture_just_fetched_is_not_the_next_passs_first_victim(tmp_path: Path) -> None:
    store, blobs, _service, feeds = await home(tmp_path)
    try:
        two_days_ago = time.time() - 2 * 86_400
        for blob, _size in list(blobs.whole()):
            os.utime(blobs.path(blob), (two_days_ago, two_days_ago))
        far = [e.content.attachments[0].blob for e in feeds[FAR.public_key][:6]]
        just_fetched = far[0]  # the oldest far picture: first to go by the order alone
        os.utime(blobs.path(just_fetched))
        before = disk_usage(store, blobs)
        keeper = StorageKeeper(store, blobs, budget=before - 250_000, grace_ms=7 * DAY,
                               wants=wants, mine=lambda: {ME.public_key})
        report = await keeper.prune()
        assert report.after <= keeper.budget, report
        assert blobs.has(just_fetched)
        assert not all(blobs.has(b) for b in far[1:])  # older files went in its place
    finally:
        await store.close()
