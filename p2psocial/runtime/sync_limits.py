"""What a node allows a sync peer: how long it waits for the peer's bytes, how it refuses a
peer (with a retry-after), and how many streams may wait for their HELLO at once.

Rules (docs/protocol.md, "Errors", E1-E5):
- The read deadline is `core.replication.ReadDeadline` (HELLO within `hello_seconds`, a begun
  frame within `frame_seconds`); `receive_within` applies it to one read and returns None
  when it passed, so the session ends with ERROR `timeout` (not a strike: a slow link looks
  the same).
- A refused peer gets our HELLO, then ERROR with a code and the seconds left
  (`refuse`), never a silent end; it then waits that long before it dials again.
- At most MAX_AWAITING_HELLO inbound streams wait for their HELLO at once; one more is
  refused `busy`, retry after BUSY_RETRY_SECONDS. With the frame limit before HELLO (2 KiB)
  and the deadline, a silent or unauthenticated peer holds little memory, and not for long.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from dataclasses import dataclass
from typing import Protocol

from p2psocial.core.errors import NetError
from p2psocial.core.replication import ReadDeadline, SyncSession
from p2psocial.core.replication.deadline import FRAME_SECONDS, HELLO_SECONDS

MAX_AWAITING_HELLO = 32
BUSY_RETRY_SECONDS = 5


class Pipe(Protocol):
    """The stream, as seen from asyncio (as runtime.peer_sync.Pipe)."""

    async def receive(self) -> bytes: ...
    async def send(self, data: bytes) -> None: ...
    async def close(self) -> None: ...


@dataclass(frozen=True, slots=True)
class SyncLimits:
    """How long a session waits for the peer's HELLO, and for a frame it began."""

    hello_seconds: float = HELLO_SECONDS
    frame_seconds: float = FRAME_SECONDS

    def deadline(self) -> ReadDeadline:
        """A read deadline for a session starting now."""
        return ReadDeadline(time.monotonic(), hello_seconds=self.hello_seconds,
                            frame_seconds=self.frame_seconds)


async def receive_within(pipe: Pipe, session: SyncSession, deadline: ReadDeadline
                         ) -> bytes | None:
    """The next bytes from `pipe`, or None if the deadline passed first."""
    due = deadline.due(session, time.monotonic())
    if due is None:
        return await pipe.receive()
    try:
        return await asyncio.wait_for(pipe.receive(), max(0.0, due - time.monotonic()))
    except TimeoutError:
        return None


def seconds_left(until: float, now: float) -> int:
    """Whole seconds from `now` to `until`, at least 1 (a retry-after to send)."""
    return max(1, math.ceil(until - now))


async def refuse(pipe: Pipe, agent: str, code: str, detail: str, retry_after: int) -> None:
    """Tell the peer it is refused (HELLO, then ERROR `code` with `retry_after`), then close."""
    with contextlib.suppress(NetError):
        await pipe.send(SyncSession([], agent=agent).refuse(code, detail, retry_after))
    await pipe.close()
