"""A connect that arrives while the last session with that peer is still ending gets a session.

bench/relay_soak.py: a follower hung up on the relay and dialled it again at once; the new
connection asked for a session while the old session (whose connection was gone) was still
registered, so none was opened, and when the old one ended nothing opened one: the follower
sat connected to the relay without syncing (13 cycles in 10,000, issue 10 item 4). A real
author process and an in-process follower node on loopback; the old session is ended by BYE
while the connection stays, which is the same order of events without depending on timing.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from p2psocial.core.identity import parse_handle
from p2psocial.core.replication import State
from p2psocial.runtime.config import NodeConfig
from p2psocial.runtime.node import Node
from p2psocial.runtime.peer_sync import PeerSync
from p2psocial.runtime.replicator import Replicator
from p2psocial.store import keyfile
from p2psocial.store.home import Home
from p2psocial.testing import identity_for
from p2psocial.testing.nodes import NodeProcess

FOLLOWER = identity_for("reconnect-follower")
LOOPBACK = "/ip4/127.0.0.1/tcp/0"


def make_node(root: Path, identity: object) -> Node:
    home = Home(root)
    home.create()
    keyfile.write_doc(home.key_file, keyfile.seal(identity, ""))  # type: ignore[arg-type]
    return Node(home, identity, NodeConfig(  # type: ignore[arg-type]
        listen=[LOOPBACK], mdns=False, dht=False, announce=False, look_seconds=3600.0),
        offline=False)


async def until(what: str, check: object, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not await check():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)


async def closed(sync: PeerSync) -> bool:
    return not sync.open


async def following(node: Node, author: NodeProcess) -> Replicator:
    """Start `node`, have it follow `author`, and return its replicator."""
    await node.start()
    await node.service.follow(author.handle, unknown=True)
    network = node._network
    assert isinstance(network, Replicator)
    return network


@pytest.mark.asyncio
@pytest.mark.timeout(90)
async def test_a_connect_during_a_sessions_end_still_leads_to_a_session(tmp_path: Path) -> None:
    author = NodeProcess.create(tmp_path / "a", name="Author")
    author.cli("post", "first")
    author.start(listen=LOOPBACK, extra=("--no-dht",))
    follower = make_node(tmp_path / "f", FOLLOWER)
    try:
        network = await following(follower, author)
        addr = author.addrs()[0]
        feed = parse_handle(author.handle)

        async def holds(seq: int) -> bool:
            state = (await follower.store.feed_states([feed])).get(feed)
            return state is not None and state.hi >= seq

        await follower.connect(addr)
        await until("the first post", lambda: holds(1))
        old = network._sessions[author.handle]
        await follower.connect(addr)  # the connection is asked for while `old` is registered
        old.close("ending")           # ... and then `old` ends, the connection staying up

        async def new_session() -> bool:
            sync = network._sessions.get(author.handle)
            return sync is not None and sync is not old and sync.open
        await until("a new session with the author", new_session)
        await asyncio.to_thread(author.cli, "post", "second")
        await until("the second post", lambda: holds(2))
    finally:
        await follower.stop()
        author.stop()


@pytest.mark.asyncio
@pytest.mark.timeout(90)
async def test_a_peers_new_session_replaces_its_old_one_in_the_same_direction(
        tmp_path: Path) -> None:
    """The relay (here the author process) still holds the follower's last session when the
    follower, done with it, opens a new one (same direction: inbound at the author). The new
    one must replace it whoever has the lower handle: the tie-break is for sessions opened by
    both sides at once. (Removing the old session from the follower's table stands for the
    follower having seen its end before the author did.)"""
    author = NodeProcess.create(tmp_path / "a", name="Author")
    author.cli("post", "first")
    author.start(listen=LOOPBACK, extra=("--no-dht",))
    seed = 0
    while (who := identity_for(f"same-direction-{seed}")).public_key >= \
            parse_handle(author.handle):
        seed += 1  # the author keeps its old session under the tie-break: the bad case
    follower = make_node(tmp_path / "f", who)
    try:
        network = await following(follower, author)
        await follower.connect(author.addrs()[0])

        async def session() -> bool:
            sync = network._sessions.get(author.handle)
            return sync is not None and sync.session.state is not State.AWAIT_HELLO
        await until("a session with the author", session)
        old = network._sessions.pop(author.handle)  # gone for the follower only
        opening = asyncio.create_task(network._open_session(author.handle))

        async def new_session() -> bool:
            sync = network._sessions.get(author.handle)
            return (sync is not None and sync is not old and sync.open
                    and sync.session.state is not State.AWAIT_HELLO)
        await until("the author to take the new session", new_session)
        await until("the author to end the old one", lambda: closed(old))
        assert not opening.done()  # the new session runs on
    finally:
        await follower.stop()
        author.stop()
