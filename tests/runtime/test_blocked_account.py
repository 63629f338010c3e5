"""Blocking a person blocks every device feed of their account (S10): none is wanted by the
replicator, served to a peer, shown in the timeline or in a feed view as not blocked.

An account ACC with devices PHONE and LAPTOP, each with a post held before the block. The
follow and the block name either the account or one of its devices: a device stands for its
account both ways. A real node on loopback (its replicator) and its real SQLite store.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from p2psocial.core.account.ops import OpType, consent_for, make_op
from p2psocial.core.content import Block, Follow
from p2psocial.core.errors import UsageError
from p2psocial.core.identity import Identity
from p2psocial.runtime.config import NodeConfig
from p2psocial.runtime.node import Node
from p2psocial.runtime.replicator import Replicator
from p2psocial.runtime.service import Service
from p2psocial.store import keyfile
from p2psocial.store.home import Home
from p2psocial.store.sqlite import Store
from p2psocial.testing import FeedBuilder, identity_for, raw_entries
from p2psocial.testing.builders import BASE_TS

ME = identity_for("blocked-account-me")
ACC = identity_for("blocked-account-account")
REC = identity_for("blocked-account-recovery")
PHONE = identity_for("blocked-account-phone")
LAPTOP = identity_for("blocked-account-laptop")
PERSON = {ACC.public_key, PHONE.public_key, LAPTOP.public_key}


async def _prepare(path: Path, follow: Identity, block: Identity | None) -> None:
    """ACC with two devices, a post from each of its feeds held; my follow (and block)."""
    store = await Store.open(path, verify_processes=0)
    try:
        await store.set_owner(ME.public_key)
        first = make_op(ACC, account=ACC.public_key, op_type=OpType.INIT, key=REC.public_key,
                        timestamp=BASE_TS)
        ops, prev = [first], first
        for i, device in enumerate((PHONE, LAPTOP)):
            prev = make_op(ACC, account=ACC.public_key, op_type=OpType.ADD,
                           key=device.public_key, timestamp=BASE_TS + 1 + i, prev=prev.hash,
                           consent=consent_for(device, ACC.public_key, OpType.ADD),
                           name=device.handle[-6:])
            ops.append(prev)
        await store.accounts.add_ops(ops)
        for who in (ACC, PHONE, LAPTOP):
            feed = FeedBuilder(who, start_ts=BASE_TS + 10_000)
            feed.post(f"a post from {who.handle[-6:]}")
            assert (await store.ingest(raw_entries(feed.entries))).ok
        await store.append(ME, Follow(feed=follow.public_key))
        if block is not None:
            await store.append(ME, Block(feed=block.public_key))
    finally:
        await store.close()


async def _node(tmp_path: Path) -> Node:
    home = Home(tmp_path / "home")
    home.create()
    keyfile.write_doc(home.key_file, keyfile.seal(ME, ""))
    return Node(home, ME, NodeConfig(listen=["/ip4/127.0.0.1/tcp/0"], mdns=False, dht=False,
                                     announce=False), offline=False)


async def _wanted(network: Replicator) -> set[bytes]:
    """The feeds the replicator wants, once its recompute has settled."""
    deadline = asyncio.get_running_loop().time() + 30
    while True:
        feeds = {n.feed for n in network.want_notes()}
        if not any(t.get_name() == "wants" for t in network._tasks):
            return feeds
        assert asyncio.get_running_loop().time() < deadline, "wants never settled"
        await asyncio.sleep(0.05)


@pytest.mark.asyncio
@pytest.mark.timeout(60)
@pytest.mark.parametrize(("follow", "block"), [(PHONE, ACC), (ACC, PHONE), (LAPTOP, LAPTOP)],
                         ids=["follow-device-block-account", "follow-account-block-device",
                              "follow-and-block-a-device"])
async def test_a_blocked_persons_device_feeds_are_not_wanted_served_or_shown(
        tmp_path: Path, follow: Identity, block: Identity) -> None:
    node = await _node(tmp_path)
    await _prepare(node.home.database, follow, block)
    await node.start()
    try:
        network = node._network
        assert isinstance(network, Replicator)
        assert not await _wanted(network) & PERSON
        assert await network.states_to_serve(sorted(PERSON)) == {}
        assert not {i.entry.author for i in await node.store.timeline(ME.public_key)} & PERSON
        service = Service(node.store, ME.public_key, lambda: ME)
        for who in (ACC, PHONE, LAPTOP):
            assert (await service.feed(who.handle)).blocked, who.handle
        assert all(v.blocked for v in await service.feeds() if v.author != ME.handle)
    finally:
        await node.stop()


@pytest.mark.asyncio
@pytest.mark.timeout(60)
async def test_without_a_block_every_device_feed_is_wanted_and_shown(tmp_path: Path) -> None:
    """The control: following the account wants, serves and shows every feed of it (so the
    test above can fail)."""
    node = await _node(tmp_path)
    await _prepare(node.home.database, ACC, None)
    await node.start()
    try:
        network = node._network
        assert isinstance(network, Replicator)
        assert await _wanted(network) >= PERSON
        assert set(await network.states_to_serve(sorted(PERSON))) == PERSON
        assert {i.entry.author for i in await node.store.timeline(ME.public_key)} >= PERSON
    finally:
        await node.stop()


@pytest.mark.asyncio
async def test_a_device_added_after_the_block_is_blocked_too_and_unblock_names_the_key(
        tmp_path: Path) -> None:
    path = tmp_path / "db"
    await _prepare(path, ME, PHONE)
    store = await Store.open(path, verify_processes=0)
    try:
        await store.set_owner(ME.public_key)
        assert await store.blocked_feeds(ME.public_key) == PERSON
        assert await store.blocking(ME.public_key) == {PHONE.public_key}
        later = identity_for("blocked-account-tablet")
        tip = (await store.accounts.state_of(ACC.public_key)).tip
        assert tip is not None
        await store.accounts.add_ops([make_op(
            ACC, account=ACC.public_key, op_type=OpType.ADD, key=later.public_key,
            timestamp=BASE_TS + 5, prev=tip, name="tablet",
            consent=consent_for(later, ACC.public_key, OpType.ADD))])
        assert await store.blocked_feeds(ME.public_key) == PERSON | {later.public_key}
        service = Service(store, ME.public_key, lambda: ME)
        with pytest.raises(UsageError, match="you already block"):
            await service.block(ACC.handle)
        with pytest.raises(UsageError, match=f"as {PHONE.handle}: unblock that"):
            await service.unblock(later.handle)
        await service.unblock(PHONE.handle)
        assert await store.blocked_feeds(ME.public_key) == set()
    finally:
        await store.close()
