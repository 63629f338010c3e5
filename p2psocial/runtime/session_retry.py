"""Opening a sync stream again after a failure, for as long as the session is still wanted.

Rules:
- A failed open (the stream timed out or failed, the redial failed: any NetError but
  ProtocolNotSupported) is retried after FIRST_DELAY seconds, the delay doubling up to
  MAX_DELAY, while `wanted()` says so (the caller's test: the peer is still connected, no
  session with it opened meanwhile, the node is not stopping, the peer is not refused).
  Found by bench/relay_soak.py: one failure on a dead connection the swarm still listed ended
  syncing with the relay for good, since only a new PeerConnected opens a session.
- A peer that does not serve the protocol is not asked again (ProtocolNotSupported).
- The first failure is logged at INFO, the retries at DEBUG.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

from p2psocial.core.errors import NetError
from p2psocial.net import ProtocolNotSupported

log = logging.getLogger(__name__)

FIRST_DELAY = 1.0   # seconds before the first retry
MAX_DELAY = 30.0    # the delay doubles up to this

_T = TypeVar("_T")


async def open_with_retry(open_once: Callable[[], Awaitable[_T]],
                          wanted: Callable[[], Awaitable[bool]], *, what: str,
                          first_delay: float = FIRST_DELAY,
                          max_delay: float = MAX_DELAY) -> _T | None:
    """`await open_once()` until it succeeds (its result) or `wanted()` is false (None)."""
    delay = first_delay
    failures = 0
    while True:
        try:
            return await open_once()
        except ProtocolNotSupported as exc:
            log.info("cannot open %s: %s", what, exc)
            return None
        except NetError as exc:
            failures += 1
            level = logging.INFO if failures == 1 else logging.DEBUG
            log.log(level, "cannot open %s (failure %d, retry in %g s while connected): %s",
                    what, failures, delay, exc)
        await asyncio.sleep(delay)
        delay = min(delay * 2, max_delay)
        if not await wanted():
            return None
