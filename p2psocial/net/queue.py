"""A bounded queue whose producer never waits: when full, the oldest item is dropped and counted.

Rules:
- libp2p delivers events and gossip from its own tasks (and mDNS from zeroconf's thread, via
  the trio token). Those producers must never block on a slow consumer, so `put_nowait`
  always succeeds: at capacity it discards the oldest queued item and adds one to `dropped`.
- Consumers `await receive()` (or `async for`). After `close()`, they get what is still
  queued, then `trio.EndOfChannel` (iteration stops). `put_nowait` after close is ignored.
- Single trio thread; not thread-safe (hand items over with the trio token first).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Generic, TypeVar

import trio

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class QueueStatistics:
    """A snapshot: items queued now, capacity, items dropped so far, whether closed."""

    queued: int
    max_items: int
    dropped: int
    closed: bool


class DropOldestQueue(Generic[T]):
    """Bounded, non-blocking for the producer; drop-oldest on overflow."""

    def __init__(self, max_items: int) -> None:
        if max_items < 1:
            raise ValueError("max_items must be at least 1")
        self._items: deque[T] = deque()
        self._max_items = max_items
        self._lot = trio.lowlevel.ParkingLot()
        self._closed = False
        self.dropped = 0

    def put_nowait(self, item: T) -> None:
        """Queue `item`; if the queue is full, drop the oldest item first. Never blocks."""
        if self._closed:
            return
        if len(self._items) >= self._max_items:
            self._items.popleft()
            self.dropped += 1
        self._items.append(item)
        self._lot.unpark()

    def receive_nowait(self) -> T:
        """The oldest item; trio.WouldBlock if empty, trio.EndOfChannel if closed and empty."""
        if self._items:
            return self._items.popleft()
        if self._closed:
            raise trio.EndOfChannel
        raise trio.WouldBlock

    async def receive(self) -> T:
        """Wait for and return the oldest item. Raises trio.EndOfChannel once closed and empty."""
        await trio.lowlevel.checkpoint_if_cancelled()
        while True:
            try:
                item = self.receive_nowait()
            except trio.WouldBlock:
                await self._lot.park()
                continue
            # Taken: yield to the scheduler without a cancel point, so no item is lost.
            await trio.lowlevel.cancel_shielded_checkpoint()
            return item

    def close(self) -> None:
        """No more items will come; receivers drain what is queued, then see EndOfChannel."""
        self._closed = True
        self._lot.unpark_all()

    def statistics(self) -> QueueStatistics:
        """A snapshot of the queue's counters."""
        return QueueStatistics(len(self._items), self._max_items, self.dropped, self._closed)

    def __aiter__(self) -> DropOldestQueue[T]:
        return self

    async def __anext__(self) -> T:
        try:
            return await self.receive()
        except trio.EndOfChannel:
            raise StopAsyncIteration from None
