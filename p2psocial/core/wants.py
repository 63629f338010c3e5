"""Which feeds a node wants, from the follow graph (design: "hops").

Rules:
- Hop 0 is the local user's own feed, hop 1 the feeds they follow, hop 2 the feeds those
  follow, and so on up to `hops`. A feed is placed at the smallest hop that reaches it.
- Blocked feeds are never wanted and never traversed.
- Each hop has a backfill depth (how many of a feed's newest entries to hold at least;
  0 = all). Hops beyond the depth table use its last value.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass

FollowsOf = Callable[[bytes], Collection[bytes]]


@dataclass(frozen=True, slots=True)
class Want:
    """Why and how deeply a feed is wanted."""

    hop: int
    depth: int


def compute_wants(me: bytes, follows_of: FollowsOf, *,
                  blocked: Collection[bytes] = (), hops: int = 2,
                  depths: Sequence[int] = (0, 1000, 100)) -> dict[bytes, Want]:
    """The wanted feeds with their hop and depth.

    Args:
        me: the local user's key (hop 0).
        follows_of: the feeds a given feed follows (as far as we know).
        blocked: feeds the local user blocks.
        hops: how many follow steps away from me to replicate.
        depths: backfill depth per hop (index = hop).
    """
    wants: dict[bytes, Want] = {me: Want(0, _depth(depths, 0))}
    frontier = [me]
    for hop in range(1, hops + 1):
        following: list[bytes] = []
        for feed in frontier:
            for other in follows_of(feed):
                if other in wants or other in blocked:
                    continue
                wants[other] = Want(hop, _depth(depths, hop))
                following.append(other)
        frontier = following
    return wants


def _depth(depths: Sequence[int], hop: int) -> int:
    return depths[min(hop, len(depths) - 1)] if depths else 0


def follows_from(mapping: Mapping[bytes, Collection[bytes]]) -> FollowsOf:
    """A `follows_of` function over a prepared mapping."""
    return lambda feed: mapping.get(feed, ())
