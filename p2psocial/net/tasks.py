"""Background tasks that cannot take the host down.

Rule: every helper task the net package starts in the host's nursery (gossip drains, DHT
routing-table adds, mDNS announcing, auto-dials, bootstrap) goes through `spawn`: a NetError
is logged at INFO, any other Exception with its traceback at ERROR, and the host runs on.
Cancellation and BaseExceptions pass through untouched.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

import trio

from p2psocial.core.errors import NetError

logger = logging.getLogger("p2psocial.net")


def spawn(nursery: trio.Nursery, what: str, fn: Callable[..., Awaitable[object]],
          *args: object) -> None:
    """`nursery.start_soon(fn, *args)`, with failures logged instead of raised."""
    nursery.start_soon(_guarded, what, fn, args, name=what)


async def _guarded(what: str, fn: Callable[..., Awaitable[object]],
                   args: tuple[object, ...]) -> None:
    try:
        await fn(*args)
    except NetError as exc:
        logger.info("%s: %s", what, exc)
    except Exception:
        logger.exception("%s failed", what)
