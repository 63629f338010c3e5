"""Provider records for held feeds (runtime/announcer.py): one DHT provide at a time, however
many feeds arrive together, each feed once, the followed ones first, at most PROVIDE_LIMIT."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from p2psocial.core.feed import FeedState
from p2psocial.runtime.announcer import PROVIDE_LIMIT, Announcer
from p2psocial.testing import identity_for, make_feed

ME = identity_for("relay").public_key


class SlowDht:
    """A DHT whose provide takes a while; counts how many run at once."""

    def __init__(self) -> None:
        self.running = 0
        self.most = 0
        self.provided: list[bytes] = []

    async def provide(self, feed: bytes) -> None:
        self.running += 1
        self.most = max(self.most, self.running)
        try:
            await asyncio.sleep(0.005)
            self.provided.append(feed)
        finally:
            self.running -= 1


@pytest.mark.asyncio
async def test_members_joining_together_are_provided_one_at_a_time_each_once() -> None:
    authors = [identity_for(f"member {i}") for i in range(PROVIDE_LIMIT + 10)]
    entries = [make_feed(a, 1)[0] for a in authors]
    held: list[bytes] = []
    followed = [authors[-1].public_key]  # followed ones go first
    dht = SlowDht()
    tasks: set[asyncio.Task[Any]] = set()

    def spawn(coro: Any, name: str) -> asyncio.Task[Any]:
        task = asyncio.ensure_future(coro)
        tasks.add(task)
        return task

    announcer = Announcer(ME, publish=None, provide=dht.provide, spawn=spawn,
                          holdings=lambda: (list(held), followed))
    for entry in entries:  # each member's first entry comes in its own write
        held.append(entry.author)
        state = FeedState(entry.author, lo=1, hi=1, hi_hash=entry.hash)
        announcer.stored([entry], {entry.author: state})
        await asyncio.sleep(0)
    assert len(tasks) == 1  # one loop, not one per member
    await asyncio.wait_for(asyncio.gather(*tasks), 10)
    assert dht.most == 1
    assert len(dht.provided) == len(set(dht.provided)) == PROVIDE_LIMIT
    # the followed member came last, past the limit, and is provided all the same: the
    # choice is made again before each provide
    assert authors[-1].public_key in dht.provided

    await announcer.provide_held()  # nothing new: nothing provided again
    assert len(dht.provided) == PROVIDE_LIMIT
