"""Redialer: each configured peer is dialled on its own, again and again, without backoff.

Before, one loop dialled the peers in turn every 5 s: a dial hanging on a dead network (its
packets dropped until the 5 s dial timeout) delayed every peer after it, and a healed
network was noticed only at the next turn of the loop.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Awaitable
from typing import Any

import pytest

from p2psocial.runtime.redial import Redialer


class Dials:
    """Records dials; the address "dead" hangs until released."""

    def __init__(self) -> None:
        self.started: list[tuple[str, float]] = []
        self.release = asyncio.Event()
        self.tasks: set[asyncio.Task[Any]] = set()
        self.t0 = time.monotonic()

    async def dial(self, addr: str) -> bool:
        self.started.append((addr, time.monotonic() - self.t0))
        if addr == "dead":
            await self.release.wait()
        return False

    def spawn(self, coro: Awaitable[Any], name: str) -> asyncio.Task[Any]:
        task = asyncio.ensure_future(coro)
        self.tasks.add(task)
        return task

    def times(self, addr: str) -> list[float]:
        return [t for a, t in self.started if a == addr]


@pytest.mark.asyncio
async def test_a_hanging_dial_delays_no_other_peer_and_is_not_repeated_meanwhile() -> None:
    dials = Dials()
    stop = False
    keeper = asyncio.ensure_future(Redialer(dials.dial, dials.spawn).keep(
        lambda: ["dead", "alive"], lambda: stop, interval=0.05))
    await asyncio.sleep(0.6)
    stop = True
    await keeper
    dials.release.set()
    await asyncio.gather(*dials.tasks)
    assert len(dials.times("dead")) == 1  # still dialling: not dialled a second time
    alive = dials.times("alive")
    assert len(alive) >= 5  # every interval, while "dead" hangs
    assert alive[0] < 0.3


@pytest.mark.asyncio
async def test_a_peer_is_dialled_again_after_a_failed_dial_without_backoff() -> None:
    dials = Dials()
    stop = False
    keeper = asyncio.ensure_future(Redialer(dials.dial, dials.spawn).keep(
        lambda: ["alive"], lambda: stop, interval=0.05))
    await asyncio.sleep(1.0)
    stop = True
    await keeper
    await asyncio.gather(*dials.tasks)
    times = dials.times("alive")
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert len(times) >= 8 and max(gaps) < 0.5  # no growing gaps
