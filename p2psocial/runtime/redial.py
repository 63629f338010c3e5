"""Redialer: keep the configured peers connected, each one on its own.

Rules:
- Every REDIAL_SECONDS, each configured peer is handed to `dial` (Replicator.dial_quietly,
  which skips a peer that has a session, is being opened or is refused) in a task of its
  own, unless a dial of it is still running: a dial that hangs on a dead network (its
  packets dropped until the dial timeout) never delays another peer's.
- No backoff that grows for peers we want: after a network heals, a peer is dialled again
  within REDIAL_SECONDS plus one dial timeout, however long it was away. (net.Host.dial
  clears libp2p's 60 s negative dial cache first, so a failed dial never blocks the next.)
- A dead connection is closed by the host's keepalive, which ends its session, so the peer
  is no longer skipped here.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

REDIAL_SECONDS = 1.0


class Redialer:
    """Redials configured peers concurrently; see the module docstring."""

    def __init__(self, dial: Callable[[str], Awaitable[object]],
                 spawn: Callable[[Awaitable[Any], str], object]) -> None:
        self._dial = dial
        self._spawn = spawn
        self._dialling: set[str] = set()

    @property
    def dialling(self) -> set[str]:
        """Addresses being dialled now."""
        return set(self._dialling)

    async def keep(self, addrs: Callable[[], Sequence[str]], stopping: Callable[[], bool],
                   interval: float = REDIAL_SECONDS) -> None:
        """Until `stopping()`: every `interval` s, dial each of `addrs()` not being dialled."""
        while not stopping():
            await asyncio.sleep(interval)
            for addr in addrs():
                if addr not in self._dialling and not stopping():
                    self._dialling.add(addr)
                    self._spawn(self._one(addr), f"redial {addr[-6:]}")

    async def _one(self, addr: str) -> None:
        try:
            await self._dial(addr)
        finally:
            self._dialling.discard(addr)
