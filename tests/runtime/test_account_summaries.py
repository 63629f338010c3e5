"""Account summaries between two real nodes (spec A1-A5, sync 1.1.0): real SQLite, real
libp2p on loopback. B follows account ACC (its id's feed and two device feeds). Once B
holds it all, B restarts and reconnects: its first WANTs summarise ACC in one ACCOUNTS note,
A finds the same, and nothing is sent again (no entries, no ops); a post made at A after
that still reaches B live. A B that is behind on one device hears MORE and catches up.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from test_account_sync import (
    ACC,
    ADD,
    ADD2,
    BOB,
    DEV,
    DEV2,
    INIT,
    Elsewhere,
    held,
    make_node,
    network,
    until,
)

from p2psocial.core.replication import PROTOCOL_ID_SUMMARIES
from p2psocial.runtime.node import Node
from p2psocial.testing import make_feed, raw_entries

DEV_FEED, DEV2_FEED = make_feed(DEV, 5), make_feed(DEV2, 3)


async def follow_all(a: Node, b: Node, there: Elsewhere, *, dev: int = 5) -> None:
    """A holds ACC's ops and devices' feeds (DEV up to `dev`); B follows ACC and takes it all."""
    await there.run(a.store.accounts.add_ops([INIT, ADD, ADD2]))
    await there.run(a.store.ingest(raw_entries(DEV_FEED[:dev])))
    await there.run(a.store.ingest(raw_entries(DEV2_FEED)))
    await b.service.follow(ACC.handle, unknown=True)
    await network(b).connect(network(a).listen_addrs()[0])

    async def all_arrived() -> bool:
        return (await held(b, DEV.public_key), await held(b, DEV2.public_key)) == (dev, 3)
    await until(all_arrived, "the account's device feeds at B")


async def matched_at(a: Node, there: Elsewhere, b: Node) -> int:
    views = await there.run(network(a).peers())
    return sum(v.accounts_matched for v in views if v.handle == b.handle)


@pytest.mark.asyncio
@pytest.mark.timeout(120)
async def test_an_up_to_date_follower_reconnects_with_one_summary_and_nothing_crosses(
        tmp_path: Path) -> None:
    a = make_node(tmp_path / "a", ACC)
    there = Elsewhere()
    try:
        await there.run(a.start())
        try:
            b = make_node(tmp_path / "b", BOB)
            await b.start()
            try:
                await follow_all(a, b, there)
            finally:
                await b.stop()
            b = make_node(tmp_path / "b", BOB)   # the same home, started again
            await b.start()
            try:
                await network(b).connect(network(a).listen_addrs()[0])

                async def caught_up() -> bool:
                    return any(p.caught_up for p in await network(b).peers())
                await until(caught_up, "B caught up with A")
                assert await matched_at(a, there, b) == 1
                views = await network(b).peers()
                assert [v.sync_version for v in views if v.handle == a.handle] == ["1.1.0"]
                (view,) = [p for p in await network(b).peers() if p.handle == a.handle]
                assert view.entries_in == 0 and view.duplicates == 0
                # live after the match: a new post of a device at A reaches B
                await there.run(a.store.ingest(raw_entries(make_feed(DEV, 6)[5:])))
                await there.run(_stored_at(a, DEV.public_key))

                async def live() -> bool:
                    return await held(b, DEV.public_key) == 6
                await until(live, "the device's new post at B")
            finally:
                await b.stop()
        finally:
            await there.run(a.stop())
    finally:
        there.close()


async def _stored_at(node: Node, feed: bytes) -> None:
    """Tell the node's sessions that `feed` grew (as ingest from a session would)."""
    replicator = network(node)
    state = await node.store.feed_state(feed)
    for sync in list(replicator._sessions.values()):
        sync.update({feed: state})


@pytest.mark.asyncio
@pytest.mark.timeout(120)
async def test_a_follower_behind_on_one_device_hears_more_and_catches_up(
        tmp_path: Path) -> None:
    a = make_node(tmp_path / "a", ACC)
    there = Elsewhere()
    try:
        await there.run(a.start())
        try:
            b = make_node(tmp_path / "b", BOB)
            await b.start()
            try:
                await follow_all(a, b, there, dev=3)
            finally:
                await b.stop()
            await there.run(a.store.ingest(raw_entries(DEV_FEED[3:])))  # while B is away
            b = make_node(tmp_path / "b", BOB)
            await b.start()
            try:
                await network(b).connect(network(a).listen_addrs()[0])

                async def caught_up() -> bool:
                    return await held(b, DEV.public_key) == 5 and any(
                        p.caught_up for p in await network(b).peers())
                await until(caught_up, "B caught up on the device that moved on")
                assert await matched_at(a, there, b) == 0
            finally:
                await b.stop()
        finally:
            await there.run(a.stop())
    finally:
        there.close()


@pytest.mark.asyncio
@pytest.mark.timeout(120)
async def test_a_peer_serving_only_sync_1_0_gets_the_old_session(tmp_path: Path) -> None:
    """B proposes 1.1.0 then 1.0.0: a node from before summaries (here: A without the 1.1.0
    handler) serves 1.0.0, and the account replicates as before (O1-O3), unsummarised."""
    a = make_node(tmp_path / "a", ACC)
    there = Elsewhere()
    try:
        await there.run(a.start())
        try:
            host = network(a)._host
            await there.run(network(a)._bridge.run_sync(
                host.remove_stream_handler, PROTOCOL_ID_SUMMARIES))
            b = make_node(tmp_path / "b", BOB)
            await b.start()
            try:
                await follow_all(a, b, there)
                views = await network(b).peers()
                assert [v.sync_version for v in views if v.handle == a.handle] == ["1.0.0"]
            finally:
                await b.stop()
            b = make_node(tmp_path / "b", BOB)   # reconnects holding it all: still 1.0.0
            await b.start()
            try:
                await network(b).connect(network(a).listen_addrs()[0])

                async def caught_up() -> bool:
                    return any(p.caught_up for p in await network(b).peers())
                await until(caught_up, "B caught up with A")
                assert await matched_at(a, there, b) == 0
            finally:
                await b.stop()
        finally:
            await there.run(a.stop())
    finally:
        there.close()
