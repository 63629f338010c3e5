"""The store conformance suite: what every store implementation must do.

Subclass `StoreConformance` in a test module and provide an async fixture `store` that yields
an open, empty store whose owner is `OWNER` (see tests/store/test_sqlite_conformance.py).
Every test here uses real signed entries from the builders.
"""

from __future__ import annotations

from typing import Any

import pytest

from p2psocial.core.content import Block, Follow, Post, Unfollow
from p2psocial.core.errors import FieldError, SignatureError, UsageError
from p2psocial.core.feed import FeedState
from p2psocial.testing.builders import FeedBuilder, identity_for, make_feed, raw_entries

OWNER = identity_for("owner")
ALICE = identity_for("alice")
BOB = identity_for("bob")


def _corrupt_signature(header: bytes) -> bytes:
    return header[:-1] + bytes([header[-1] ^ 1])


class StoreConformance:
    """Behaviour every store must show. Tests are async and take the `store` fixture."""

    # --- appending my own entries ---------------------------------------------------------

    @pytest.mark.asyncio
    async def test_append_chains_my_entries(self, store: Any) -> None:
        first = await store.append(OWNER, Post(text="one"))
        second = await store.append(OWNER, Post(text="two"))
        assert (first.seq, second.seq) == (1, 2)
        assert second.prev == first.hash
        state = await store.feed_state(OWNER.public_key)
        assert (state.lo, state.hi, state.hi_hash) == (1, 2, second.hash)

    @pytest.mark.asyncio
    async def test_append_timestamps_never_go_backwards(self, store: Any) -> None:
        a = await store.append(OWNER, Post(text="one"))
        b = await store.append(OWNER, Post(text="two"))
        assert b.timestamp >= a.timestamp

    # --- ingesting received entries -------------------------------------------------------

    @pytest.mark.asyncio
    async def test_ingest_stores_a_valid_batch(self, store: Any) -> None:
        feed = make_feed(ALICE, 30)
        report = await store.ingest(raw_entries(feed))
        assert len(report.accepted) == 30 and report.ok
        state = await store.feed_state(ALICE.public_key)
        assert (state.lo, state.hi, state.hi_hash) == (1, 30, feed[-1].hash)
        assert await store.count_entries(ALICE.public_key) == 30

    @pytest.mark.asyncio
    async def test_ingest_newest_first_backfills_down_the_chain(self, store: Any) -> None:
        feed = make_feed(ALICE, 20)
        newest_first = list(reversed(feed))
        report = await store.ingest(raw_entries(newest_first[:5]))
        assert len(report.accepted) == 5
        state = await store.feed_state(ALICE.public_key)
        assert (state.lo, state.hi) == (16, 20)
        await store.ingest(raw_entries(newest_first[5:]))
        state = await store.feed_state(ALICE.public_key)
        assert (state.lo, state.hi) == (1, 20) and state.complete

    @pytest.mark.asyncio
    async def test_concurrent_ingests_write_in_call_order(self, store: Any) -> None:
        import asyncio
        feed = make_feed(ALICE, 1201)
        # a big first batch (slow to verify) and a tiny second one that links onto it
        first, second = raw_entries(feed[:1200]), raw_entries(feed[1200:])
        reports = await asyncio.gather(store.ingest(first), store.ingest(second))
        assert [len(r.accepted) for r in reports] == [1200, 1]
        assert (await store.feed_state(ALICE.public_key)).hi == 1201

    @pytest.mark.asyncio
    async def test_duplicates_are_counted_not_stored_twice(self, store: Any) -> None:
        feed = make_feed(ALICE, 10)
        await store.ingest(raw_entries(feed))
        report = await store.ingest(raw_entries(feed))
        assert report.duplicates == 10 and not report.accepted and report.ok
        assert await store.count_entries(ALICE.public_key) == 10

    @pytest.mark.asyncio
    async def test_invalid_entry_stores_valid_prefix_and_reports_rest(self, store: Any) -> None:
        feed = make_feed(ALICE, 10)
        raw = raw_entries(feed)
        raw[6] = (_corrupt_signature(raw[6][0]), raw[6][1])
        report = await store.ingest(raw)
        assert len(report.accepted) == 6
        assert isinstance(report.error, SignatureError) and report.error.rule == "H8"
        assert report.error_index == 6 and report.not_stored == 4
        state = await store.feed_state(ALICE.public_key)
        assert state.hi == 6
        assert await store.count_entries() == 6

    @pytest.mark.asyncio
    async def test_garbage_bytes_store_nothing(self, store: Any) -> None:
        report = await store.ingest([(b"\xff\x00garbage", None), *raw_entries(make_feed(ALICE, 2))])
        assert report.error is not None and report.error_index == 0
        assert not report.accepted and await store.count_entries() == 0

    @pytest.mark.asyncio
    async def test_payload_that_does_not_match_is_rejected(self, store: Any) -> None:
        feed = make_feed(ALICE, 3)
        raw = raw_entries(feed)
        raw[1] = (raw[1][0], raw[1][1][:-1] + b"!")  # type: ignore[index]
        report = await store.ingest(raw)
        assert report.error is not None and report.error.rule == "P2"
        assert len(report.accepted) == 1

    @pytest.mark.asyncio
    async def test_entries_without_payload_are_kept_as_headers(self, store: Any) -> None:
        feed = make_feed(ALICE, 3)
        report = await store.ingest([(e.header, None) for e in feed])
        assert len(report.accepted) == 3
        got = await store.get(feed[1].hash)
        assert got is not None and got.payload is None and got.seq == 2

    @pytest.mark.asyncio
    async def test_gap_is_not_stored(self, store: Any) -> None:
        feed = make_feed(ALICE, 10)
        await store.ingest(raw_entries(feed[:3]))
        report = await store.ingest(raw_entries(feed[6:7]))
        assert report.gaps == 1 and not report.accepted
        assert (await store.feed_state(ALICE.public_key)).hi == 3

    @pytest.mark.asyncio
    async def test_unknown_types_are_stored_and_passed_on(self, store: Any) -> None:
        b = FeedBuilder(ALICE)
        b.post("known")
        b.add_raw("x-poll", b"\x00opaque\xff")
        report = await store.ingest(raw_entries(b.entries))
        assert len(report.accepted) == 2
        got = await store.get(b.entries[1].hash)
        assert got is not None and got.payload == b"\x00opaque\xff" and got.content is None

    # --- forks ----------------------------------------------------------------------------

    @pytest.mark.asyncio
    async def test_fork_keeps_both_as_proof_and_freezes_the_feed(self, store: Any) -> None:
        honest = FeedBuilder(ALICE)
        for i in range(5):
            honest.post(f"p{i}")
        other = FeedBuilder(ALICE, after=honest.entries[2])
        other._ts += 7
        other.post("the other history")
        await store.ingest(raw_entries(honest.entries))
        report = await store.ingest(raw_entries(other.entries))
        assert len(report.forks) == 1 and report.forks[0].seq == 4
        state = await store.feed_state(ALICE.public_key)
        assert state.forked
        proofs = await store.forks(ALICE.public_key)
        assert [p.hash for p in proofs] == [other.entries[0].hash]
        held = await store.get_at(ALICE.public_key, 4)
        assert held is not None and held.hash == honest.entries[3].hash
        honest.post("after the fork")
        report = await store.ingest(raw_entries(honest.entries[-1:]))
        assert report.refused == 1 and not report.accepted

    @pytest.mark.asyncio
    async def test_fork_in_one_feed_does_not_stop_other_feeds(self, store: Any) -> None:
        a = FeedBuilder(ALICE)
        a.post("a1")
        await store.ingest(raw_entries(a.entries))
        fork = FeedBuilder(ALICE)
        fork._ts += 3
        fork.post("a1 again")
        bob = make_feed(BOB, 3)
        report = await store.ingest(raw_entries(fork.entries) + raw_entries(bob))
        assert len(report.forks) == 1 and len(report.accepted) == 3

    @pytest.mark.asyncio
    async def test_appending_to_my_forked_feed_is_refused(self, store: Any) -> None:
        await store.append(OWNER, Post(text="mine"))
        twin = FeedBuilder(OWNER)
        twin._ts += 99
        twin.post("from a stale backup")
        await store.ingest(raw_entries(twin.entries))
        with pytest.raises(UsageError):
            await store.append(OWNER, Post(text="more"))

    # --- queries --------------------------------------------------------------------------

    @pytest.mark.asyncio
    async def test_timeline_merges_followed_feeds_newest_first(self, store: Any) -> None:
        alice = make_feed(ALICE, 5, start_ts=1_000_000)
        bob = make_feed(BOB, 5, start_ts=1_000_500)
        stranger = make_feed(identity_for("stranger"), 5, start_ts=1_000_700)
        await store.ingest(raw_entries(alice) + raw_entries(bob) + raw_entries(stranger))
        await store.append(OWNER, Follow(feed=ALICE.public_key))
        await store.append(OWNER, Follow(feed=BOB.public_key))
        page = await store.timeline(OWNER.public_key, limit=4)
        stamps = [i.entry.timestamp for i in page]
        assert stamps == sorted(stamps, reverse=True)
        assert {i.entry.author for i in page} <= {ALICE.public_key, BOB.public_key}
        rest = await store.timeline(OWNER.public_key, limit=100, before=page[-1].cursor)
        assert len(page) + len(rest) == 10
        assert not {i.entry.hash for i in page} & {i.entry.hash for i in rest}

    @pytest.mark.asyncio
    async def test_timeline_includes_my_posts_and_drops_unfollowed(self, store: Any) -> None:
        await store.ingest(raw_entries(make_feed(ALICE, 3)))
        await store.append(OWNER, Follow(feed=ALICE.public_key))
        mine = await store.append(OWNER, Post(text="mine"))
        assert len(await store.timeline(OWNER.public_key)) == 4
        await store.append(OWNER, Unfollow(feed=ALICE.public_key))
        assert [i.entry.hash for i in await store.timeline(OWNER.public_key)] == [mine.hash]

    @pytest.mark.asyncio
    async def test_thread_collects_replies_to_the_root(self, store: Any) -> None:
        a = FeedBuilder(ALICE)
        root = a.post("root")
        b = FeedBuilder(BOB)
        r1 = b.reply(root, "first reply")
        r2 = a.reply(r1, "reply to the reply")
        await store.ingest(raw_entries(a.entries) + raw_entries(b.entries))
        thread = await store.thread(root.hash)
        assert [e.hash for e in thread] == [root.hash, r1.hash, r2.hash]
        counts = await store.counts([root.hash, r1.hash])
        assert counts[root.hash].replies == 1 and counts[r1.hash].replies == 1

    @pytest.mark.asyncio
    async def test_profile_takes_the_latest_about(self, store: Any) -> None:
        a = FeedBuilder(ALICE)
        a.about(name="Ana")
        a.about(bio="hello")
        a.about(name="Ana B.")
        # arrive newest first: older names must not win over newer ones
        await store.ingest(raw_entries(reversed(a.entries)))
        profile = await store.profile(ALICE.public_key)
        assert (profile.name, profile.bio) == ("Ana B.", "hello")

    # --- deletion -------------------------------------------------------------------------

    @pytest.mark.asyncio
    async def test_delete_drops_payload_keeps_header(self, store: Any) -> None:
        a = FeedBuilder(ALICE)
        target = a.post("regret")
        a.post("other")
        a.delete(target)
        await store.ingest(raw_entries(a.entries))
        got = await store.get(target.hash)
        assert got is not None and got.payload is None and got.header == target.header
        shown = await store.timeline(OWNER.public_key, authors=[ALICE.public_key])
        assert target.hash not in {i.entry.hash for i in shown}

    @pytest.mark.asyncio
    async def test_delete_that_arrives_before_its_target_still_applies(self, store: Any) -> None:
        a = FeedBuilder(ALICE)
        target = a.post("regret")
        a.delete(target)
        newest_first = list(reversed(a.entries))
        await store.ingest(raw_entries(newest_first[:1]))
        await store.ingest(raw_entries(newest_first[1:]))
        got = await store.get(target.hash)
        assert got is not None and got.payload is None

    @pytest.mark.asyncio
    async def test_nobody_can_delete_another_authors_entry(self, store: Any) -> None:
        target = FeedBuilder(ALICE).post("mine")
        b = FeedBuilder(BOB)
        b.delete(target)
        await store.ingest(raw_entries([target]) + raw_entries(b.entries))
        got = await store.get(target.hash)
        assert got is not None and got.payload == target.payload

    # --- blocking -------------------------------------------------------------------------

    @pytest.mark.asyncio
    async def test_entries_of_blocked_feeds_are_refused(self, store: Any) -> None:
        await store.append(OWNER, Block(feed=ALICE.public_key))
        report = await store.ingest(raw_entries(make_feed(ALICE, 3)))
        assert report.refused == 3 and not report.accepted
        assert (await store.feed_state(ALICE.public_key)) == FeedState(ALICE.public_key)

    # --- header-only validation path ------------------------------------------------------

    @pytest.mark.asyncio
    async def test_oversized_header_is_rejected(self, store: Any) -> None:
        report = await store.ingest([(b"\xa0" * 600, None)])
        assert isinstance(report.error, FieldError) and report.error.rule == "H1"
