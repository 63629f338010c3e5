"""Many calls at once on one control connection, some cancelled, against a real node process:
every reply reaches its own caller (issue 9, item 1)."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Iterator
from pathlib import Path

import pytest

from p2psocial.runtime.control import ControlClient
from p2psocial.runtime.views import EntryView, FeedLog, FeedView
from p2psocial.testing.nodes import NodeProcess

pytestmark = pytest.mark.slow


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
