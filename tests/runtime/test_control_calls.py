"""Many calls at once on one control connection, some cancelled, against a real node process:
every reply reaches its own caller (issue 9, item 1); a slow call holds up no other."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Iterator
from pathlib import Path

import pytest

from p2psocial.runtime.config import NodeConfig
from p2psocial.runtime.control import ControlClient
from p2psocial.runtime.node import Node
from p2psocial.runtime.views import EntryView, FeedLog, FeedView
from p2psocial.store import keyfile
from p2psocial.store.home import Home
from p2psocial.testing import identity_for
from p2psocial.testing.nodes import NodeProcess

pytestmark = pytest.mark.slow
ME = identity_for("control-calls")


@pytest.fixture
def running(tmp_path: Path) -> Iterator[NodeProcess]:
    node = NodeProcess.create(tmp_path / "home", name="Calls")
    node.start(extra=["--offline"])
    try:
        yield node
    finally:
        node.stop()


async def _one_call(client: ControlClient, posts: list[EntryView], rng: random.Random
                    ) -> None:
    """A random call whose correct result is known; asserts the reply is its own."""
    kind = rng.randrange(3)
    if kind == 0:
        post = rng.choice(posts)
        got = await client.entries([post.hash])
        assert isinstance(got, list) and [e.hash for e in got] == [post.hash]
    elif kind == 1:
        limit = rng.randrange(1, len(posts) + 1)
        log = await client.log(limit=limit)
        assert isinstance(log, FeedLog) and len(log.entries) == limit
    else:
        feed = await client.feed()
        assert isinstance(feed, FeedView) and feed.name == "Calls"


@pytest.mark.asyncio
async def test_cancelled_calls_never_hand_their_reply_to_another_caller(
        running: NodeProcess) -> None:
    rng = random.Random(9)
    client = await ControlClient.open(running.home / "node.sock")
    try:
        posts = [await client.post(f"post number {i}") for i in range(12)]
        finished = cancelled = 0
        for _ in range(8):  # rounds of concurrent calls, a random third of them cancelled
            tasks = [asyncio.create_task(_one_call(client, posts, rng)) for _ in range(40)]
            await asyncio.sleep(rng.uniform(0, 0.02))
            for task in tasks:
                if rng.random() < 0.33:
                    task.cancel()
            for task in tasks:
                try:
                    await asyncio.wait_for(task, 30)
                    finished += 1
                except asyncio.CancelledError:
                    cancelled += 1
        assert finished > 50 and cancelled > 20
        # the connection is still in step afterwards
        assert [e.hash for e in await client.entries([posts[3].hash])] == [posts[3].hash]
        assert (await client.feed()).name == "Calls"
    finally:
        await client.close()


@pytest.mark.asyncio
async def test_a_slow_call_holds_up_no_other_call_on_its_connection(tmp_path: Path) -> None:
    """A dial to a peer that accepts and then never answers takes until its timeout; calls
    made meanwhile on the same connection are answered at once (replies overtake)."""
    accepted: list[asyncio.StreamWriter] = []
    silent = await asyncio.start_server(lambda r, w: accepted.append(w), "127.0.0.1", 0)
    port = silent.sockets[0].getsockname()[1]
    home = Home(tmp_path / "home")
    home.create()
    keyfile.write_doc(home.key_file, keyfile.seal(ME, ""))
    config = NodeConfig(listen=["/ip4/127.0.0.1/tcp/0"], mdns=False, dht=False)
    try:
        async with Node(home, ME, config) as node:
            client = await ControlClient.open(node.home.control_socket)
            try:
                dial = asyncio.create_task(client.connect(
                    f"/ip4/127.0.0.1/tcp/{port}/p2p/{identity_for('silent').handle}"))
                await asyncio.sleep(0.2)
                for i in range(5):
                    await asyncio.wait_for(client.post(f"while dialling {i}"), 20)
                    assert (await asyncio.wait_for(client.feed(), 20)).hi == i + 1
                assert not dial.done()  # all answered while the dial still hung
                dial.cancel()
            finally:
                await client.close()
    finally:
        silent.close()
        for writer in accepted:
            writer.close()
        await silent.wait_closed()
