"""Where a writer sends a wrap, and when it tries again (docs/protocol.md §Private
messages, M16, M18).

Rules:
- M16: the holders of account A to try, first source that has any: the relays of A's latest
  `relays` entry held, the DHT providers of A's id, the relays an invite from A named; each
  address once, in that order. A device of A is tried only when no relay source has any.
- A wrap is delivered once DELIVERY_HOLDERS holders answered `stored` or `duplicate`; a
  round makes at most MAX_ATTEMPTS PUTs.
- M18: a wrap not yet held is tried again after 1 s, doubling, at most 10 min, for 7 days
  after it was written; then it is "not delivered".
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

DELIVERY_HOLDERS = 2
MAX_ATTEMPTS = 8
RETRY_FIRST_MS = 1_000
RETRY_MAX_MS = 600_000
DELIVERY_WINDOW_MS = 604_800_000


@dataclass(frozen=True, slots=True)
class Route:
    """The addresses to PUT to, in order; `to_devices`: they are A's own devices."""

    addrs: tuple[str, ...]
    to_devices: bool = False


def plan_route(*, relays: Sequence[str] = (), providers: Sequence[str] = (),
               invite: Sequence[str] = (), devices: Sequence[str] = ()) -> Route:
    """M16: the first source with any address, deduplicated, at most MAX_ATTEMPTS."""
    for source in (relays, providers, invite):
        addrs = tuple(dict.fromkeys(source))[:MAX_ATTEMPTS]
        if addrs:
            return Route(addrs)
    return Route(tuple(dict.fromkeys(devices))[:MAX_ATTEMPTS], to_devices=bool(devices))


def delivered(held_by: int, *, to_devices: bool = False) -> bool:
    """Enough holders hold the wrap: DELIVERY_HOLDERS relays, or one device of A."""
    return held_by >= (1 if to_devices else DELIVERY_HOLDERS)


def next_try_ms(attempts: int, *, written_ms: int, now_ms: int) -> int | None:
    """When to try a wrap again after `attempts` failed rounds, or None: give up (M18)."""
    delay = min(RETRY_MAX_MS, RETRY_FIRST_MS << min(attempts, 20))
    at = now_ms + delay
    return at if at <= written_ms + DELIVERY_WINDOW_MS else None
