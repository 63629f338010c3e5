"""Background tasks that cannot take the host down.

Rule: every helper task the net package starts in the host's nursery (gossip drains, DHT
routing-table adds, mDNS announcing, auto-dials, bootstrap) goes through `spawn`: a NetError
is logged at INFO, any other Exception with its traceback at ERROR, and the host runs on.
Cancellation and BaseExceptions pass through untouched.
`live_tasks` counts the trio tasks alive in this run (the node's `status` reports it, and the
relay soak benchmark checks that it does not grow).
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


def live_tasks() -> int:
    """How many trio tasks are alive in the current run (the root task and every task in its
    nurseries, recursively). Call from inside trio."""
    count = 0
    stack = [trio.lowlevel.current_root_task()]
    while stack:
        task = stack.pop()
        count += 1
        for nursery in task.child_nurseries:
            stack.extend(nursery.child_tasks)
    return count
