"""Account ops between two real nodes on loopback (spec O1-O3): real SQLite, real libp2p.
A process holds one trio guest run per thread, so node A runs in a thread of its own with
its own event loop (`Elsewhere`); the test talks to it through that loop.

Node A holds the ops of account ACC (init, add of device DEV) and DEV's feed. Node B follows
ACC: it receives the ops with its answer for ACC's feed, resolves DEV as a member, wants
DEV's feed and stores its posts. Ops made later at A go to B live and bring the new device.
"""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from pathlib import Path
from typing import TypeVar

import pytest
import pytest_asyncio

from p2psocial.core.account.ops import Op, OpType, consent_for, make_op
from p2psocial.core.feed import FeedState
from p2psocial.core.identity import Identity
from p2psocial.core.replication import (
    NEED_DATA,
    Code,
    PeerFailed,
    SyncSession,
    WantNote,
    encode_frame,
    encode_message,
)
from p2psocial.core.replication.messages import Ops
from p2psocial.runtime.account_home import LocalAccount, write_account
from p2psocial.runtime.account_sync import AccountSync
from p2psocial.runtime.config import NodeConfig
from p2psocial.runtime.node import Node
from p2psocial.runtime.peer_sync import PeerSync
from p2psocial.runtime.replicator import Replicator
from p2psocial.store import keyfile
from p2psocial.store.home import Home
from p2psocial.store.sqlite import Store
from p2psocial.testing import identity_for, make_feed, raw_entries

ACC, RECOVERY = identity_for("sync-account"), identity_for("sync-account-recovery")
DEV, DEV2 = identity_for("sync-device-1"), identity_for("sync-device-2")
BOB = identity_for("sync-follower")
T = 1_700_000_000_000
_R = TypeVar("_R")

INIT = make_op(ACC, account=ACC.public_key, op_type=OpType.INIT, key=RECOVERY.public_key,
               timestamp=T)


def add(device: Identity, prev: Op, timestamp: int) -> Op:
    return make_op(ACC, account=ACC.public_key, op_type=OpType.ADD, key=device.public_key,
                   timestamp=timestamp, prev=prev.hash,
                   consent=consent_for(device, ACC.public_key, OpType.ADD), name="device")


ADD = add(DEV, INIT, T + 1)
ADD2 = add(DEV2, ADD, T + 2)


def make_node(root: Path, identity: Identity) -> Node:
    home = Home(root)
    home.create()
    keyfile.write_doc(home.key_file, keyfile.seal(identity, ""))
    return Node(home, identity, NodeConfig(listen=["/ip4/127.0.0.1/tcp/0"], mdns=False,
                                           dht=False, announce=False))


def network(node: Node) -> Replicator:
    assert isinstance(node._network, Replicator)
    return node._network


async def until(check: Callable[[], Awaitable[bool]], what: str, timeout: float = 30) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not await check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


class Elsewhere:
    """An event loop in a thread of its own: `run` awaits a coroutine there."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()

    async def run(self, work: Awaitable[_R]) -> _R:
        async def there() -> _R:
            return await work
        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(there(), self.loop))

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)
        self.loop.close()


@pytest_asyncio.fixture
async def pair(tmp_path: Path) -> AsyncIterator[tuple[Node, Node, Elsewhere]]:
    a, b = make_node(tmp_path / "a", ACC), make_node(tmp_path / "b", BOB)
    there = Elsewhere()
    try:
        await there.run(a.start())
        try:
            await b.start()
            try:
                yield a, b, there
            finally:
                await b.stop()
        finally:
            await there.run(a.stop())
    finally:
        there.close()


async def held(node: Node, feed: bytes) -> int:
    return (await node.store.feed_state(feed)).hi


@pytest.mark.asyncio
@pytest.mark.timeout(90)
async def test_a_follower_gets_the_ops_then_the_devices_posts(
        pair: tuple[Node, Node, Elsewhere]) -> None:
    a, b, there = pair
    assert await there.run(a.store.accounts.add_ops([INIT, ADD])) == [INIT, ADD]
    report = await there.run(a.store.ingest(raw_entries(make_feed(DEV, 4))))
    assert len(report.accepted) == 4
    await there.run(a.service.post("from the account key itself"))
    await b.service.follow(ACC.handle, unknown=True)
    await network(b).connect(network(a).listen_addrs()[0])

    async def ops_arrived() -> bool:
        return {op.hash for op in await b.store.accounts.ops_of(ACC.public_key)} \
            == {INIT.hash, ADD.hash}
    await until(ops_arrived, "the account's ops at B")

    async def device_posts_arrived() -> bool:
        return await held(b, DEV.public_key) == 4
    await until(device_posts_arrived, "the device's posts at B")
    assert await held(b, ACC.public_key) == 1
    depths = {note.feed: note.depth for note in network(b).want_notes()}
    assert depths[DEV.public_key] == depths[ACC.public_key]  # at the account's depth (O3)

    # a device added later: its op reaches B live, and B wants the new device's feed
    await there.run(a.store.ingest(raw_entries(make_feed(DEV2, 2))))

    async def add_at_a() -> None:
        network(a).ops_stored(await a.store.accounts.add_ops([ADD2]))
    await there.run(add_at_a())

    async def new_device_arrived() -> bool:
        return await held(b, DEV2.public_key) == 2
    await until(new_device_arrived, "the second device's posts at B")
    assert len(await b.store.accounts.ops_of(ACC.public_key)) == 3

    # revoked with nothing counting (after 0): B no longer wants that device's feed
    revoke = make_op(ACC, account=ACC.public_key, op_type=OpType.REVOKE,
                     key=DEV2.public_key, timestamp=T + 3, prev=ADD2.hash, after=0)

    async def revoke_at_a() -> None:
        network(a).ops_stored(await a.store.accounts.add_ops([revoke]))
    await there.run(revoke_at_a())

    async def device_unwanted() -> bool:
        return DEV2.public_key not in {n.feed for n in network(b).want_notes()}
    await until(device_unwanted, "B to stop wanting the revoked device")
    assert DEV.public_key in {n.feed for n in network(b).want_notes()}


class SocketPipe:
    """One end of a real socket pair as a sync Pipe."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader, self._writer = reader, writer

    async def receive(self) -> bytes:
        return await self._reader.read(65536)

    async def send(self, data: bytes) -> None:
        self._writer.write(data)
        await self._writer.drain()

    async def close(self) -> None:
        self._writer.close()


class OneFeedLink:
    """A replicator that wants ACC's feed and records strikes."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.strikes: list[str] = []

    def want_notes(self) -> list[WantNote]:
        return [WantNote(ACC.public_key, 0, 0, 0)]

    async def states_to_serve(self, feeds: Sequence[bytes]) -> Mapping[bytes, FeedState]:
        return {}

    async def states_of(self, feeds: Sequence[bytes]) -> Mapping[bytes, FeedState]:
        return {}

    async def stored(self, sync: PeerSync, report: object) -> None:
        return None

    def peer_has(self, sync: PeerSync, feed: bytes, lo: int, hi: int) -> None:
        return None

    def caught_up(self, sync: PeerSync) -> None:
        return None

    def misbehaved(self, sync: PeerSync, reason: str) -> float:
        self.strikes.append(reason)
        return 60.0

    def refused_by(self, sync: PeerSync, seconds: float) -> None:
        return None


@pytest.mark.asyncio
@pytest.mark.timeout(60)
async def test_an_invalid_op_ends_the_session_and_the_ops_before_it_are_kept(
        tmp_path: Path) -> None:
    store = await Store.open(tmp_path / "db.sqlite")
    ours, theirs = socket.socketpair()
    try:
        link = OneFeedLink(store)
        accounts = AccountSync(store, sessions=list, wanted=lambda: {ACC.public_key},
                               blocked=set, wants_changed=lambda: None)
        await accounts.start()
        sync = PeerSync(link, SocketPipe(*await asyncio.open_connection(sock=ours)),
                        "forger", outbound=True, accounts=accounts)
        running = asyncio.create_task(sync.run())
        reader, writer = await asyncio.open_connection(sock=theirs)
        forger = SyncSession([])
        forged = ADD.raw[:-1] + bytes([ADD.raw[-1] ^ 1])
        writer.write(forger.initiate() + encode_frame(encode_message(
            Ops(ACC.public_key, (INIT.raw, forged)))))
        await writer.drain()
        failed: PeerFailed | None = None
        while failed is None:
            data = await asyncio.wait_for(reader.read(65536), 10)
            assert data, "the session ended without an ERROR"
            forger.receive_data(data)
            while (event := forger.next_event()) is not NEED_DATA:
                if isinstance(event, PeerFailed):
                    failed = event
                    break
        assert failed.code == Code.INVALID_OP and "[K8]" in failed.detail
        assert failed.retry_after == 60
        await asyncio.wait_for(running, 10)
        assert link.strikes and not sync.open
        assert [op.hash for op in await store.accounts.ops_of(ACC.public_key)] == [INIT.hash]
        writer.close()
    finally:
        theirs.close()
        await store.close()


@pytest.mark.asyncio
@pytest.mark.timeout(90)
async def test_a_device_replicates_its_own_accounts_ops_and_other_devices(
        tmp_path: Path) -> None:
    """B is a device of ACC (HOME/account.json) that follows nobody: it wants its account at
    hop 0, so it takes the ops A sends and the posts of ACC's other device."""
    a, b = make_node(tmp_path / "a", ACC), make_node(tmp_path / "b", DEV2)
    write_account(b.home, LocalAccount(account=ACC.public_key, device_name="b"))
    there = Elsewhere()
    try:
        await there.run(a.start())
        await there.run(a.store.accounts.add_ops([INIT, ADD, ADD2]))
        await there.run(a.store.ingest(raw_entries(make_feed(DEV, 3))))
        await b.start()
        try:
            await network(b).connect(network(a).listen_addrs()[0])

            async def device_posts_arrived() -> bool:
                return await held(b, DEV.public_key) == 3
            await until(device_posts_arrived, "the other device's posts at B")
            assert len(await b.store.accounts.ops_of(ACC.public_key)) == 3
            hops = {n.feed: n.depth for n in network(b).want_notes()}
            assert hops[DEV.public_key] == hops[DEV2.public_key] == hops[ACC.public_key]
        finally:
            await b.stop()
            await there.run(a.stop())
    finally:
        there.close()
