"""Re-announcing held heads (runtime/announcer.py): a relay's followers all store a new post by
their sessions before its gossip arrives. The first holder's announcement (or the author's)
must stop the others: one message per post, not one per follower."""

from __future__ import annotations

import asyncio
import random
from typing import Any

import pytest

from p2psocial.core.feed import FeedState
from p2psocial.runtime import announcer as announcer_module
from p2psocial.runtime.announcer import Announcer
from p2psocial.testing import identity_for, make_feed

AUTHOR = identity_for("author")
FOLLOWERS = 50


class Topic:
    """A gossip topic on which every announcement reaches every follower DELAY s later."""

    DELAY = 0.01

    def __init__(self) -> None:
        self.members: list[Announcer] = []
        self.published = 0

    async def publish(self, feed: bytes, header: bytes) -> None:
        self.published += 1
        seq = next(e.seq for e in ENTRIES if e.header == header)
        asyncio.get_running_loop().call_later(self.DELAY, self.deliver, feed, seq)

    def deliver(self, feed: bytes, seq: int) -> None:
        for member in self.members:
            member.heard(feed, seq)


ENTRIES = make_feed(AUTHOR, 3)


def followers(topic: Topic, tasks: set[asyncio.Task[Any]]) -> list[Announcer]:
    def spawn(coro: Any, name: str) -> asyncio.Task[Any]:
        task = asyncio.ensure_future(coro)
        tasks.add(task)
        return task

    for i in range(FOLLOWERS):
        topic.members.append(Announcer(
            identity_for(f"follower {i}").public_key, publish=topic.publish, provide=None,
            spawn=spawn, holdings=lambda: ([], []), rng=random.Random(i)))
    return topic.members


def stored(announcer: Announcer, seq: int) -> None:
    entry = ENTRIES[seq - 1]
    state = FeedState(AUTHOR.public_key, lo=1, hi=seq, hi_hash=entry.hash)
    announcer.stored([entry], {AUTHOR.public_key: state})


@pytest.mark.asyncio
async def test_the_first_holder_to_announce_stops_the_others(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(announcer_module, "ANNOUNCE_HOLD", (0.05, 0.5))  # 2-6 s, scaled
    topic, tasks = Topic(), set[asyncio.Task[Any]]()
    for follower in followers(topic, tasks):
        stored(follower, 1)  # all 50 store seq 1 at the same moment; no gossip of it yet
    await asyncio.gather(*tasks)
    # those whose hold ended within the network delay of the first announcement also send;
    # a fixed hold (all at once) would make it 50
    assert 1 <= topic.published <= 6


@pytest.mark.asyncio
async def test_nobody_announces_what_the_author_announced_within_the_hold(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(announcer_module, "ANNOUNCE_HOLD", (0.2, 0.6))
    topic, tasks = Topic(), set[asyncio.Task[Any]]()
    for follower in followers(topic, tasks):
        stored(follower, 2)
    await asyncio.sleep(0.1)  # the author's gossip arrives (next heartbeat) before any hold ends
    for follower in topic.members:
        follower.heard(AUTHOR.public_key, 2)
    await asyncio.gather(*tasks)
    assert topic.published == 0
