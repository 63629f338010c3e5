"""The storage budget: what goes first when a node holds more than its user allows
(docs/architecture.md "Storage budget"). Pure: the caller lists what could go and measures
the disk.

Rules:
- Only two kinds of things are ever dropped to meet the budget: a blob file (a picture or
  file), and the payload of a post (its header stays, so every feed still verifies, and a
  dropped payload can be fetched again like any other). Never: anything of mine (my feed, my
  account's device feeds, blobs my posts name), anything I bookmarked (the post and its
  blobs), and entries other than posts (profiles and follows make the graph).
- The order, first to last: blobs no held post names; then by hop, farthest first (a feed
  nobody I want holds counts past every hop); within a hop, blobs before payloads (one
  picture frees what thousands of payloads do), and older before newer (by the post's time).
- A blob file stored in the last little while (`fresh`: the caller's judgement, by the
  file's time) goes after everything else: a picture just fetched to be looked at, or just
  copied for a post still being written, is not taken back by the next pass. Only a budget
  that nothing else can meet takes such files, in the same order among them.
- `choose` takes from that order until the bytes it frees reach what is over the budget;
  it never takes a protected item, and takes nothing when nothing is over.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass

NO_HOP = 1 << 30  # a feed that is not wanted at any hop


class Kind(enum.IntEnum):
    """What an item is; the order within one hop."""

    BLOB = 0
    PAYLOAD = 1


@dataclass(frozen=True, slots=True)
class Item:
    """Something that could be dropped: a blob (key: its id) or a post's payload (key: the
    entry hash), its size in bytes, the hop of its feed (None: no held post names it), the
    post's time in ms."""

    kind: Kind
    key: bytes
    size: int
    hop: int | None
    ts: int
    protected: bool = False
    fresh: bool = False


def order_key(item: Item) -> tuple[int, int, int, int, int]:
    """Sort key: first dropped first."""
    orphan = 0 if item.hop is None else 1
    hop = 0 if item.hop is None else item.hop
    return (int(item.fresh), orphan, -hop, int(item.kind), item.ts)


def choose(items: Iterable[Item], over_by: int) -> list[Item]:
    """What to drop, in order, to free at least `over_by` bytes (as much as can be, if the
    unprotected items together are less)."""
    if over_by <= 0:
        return []
    out: list[Item] = []
    freed = 0
    for item in sorted((i for i in items if not i.protected), key=order_key):
        if freed >= over_by:
            break
        out.append(item)
        freed += item.size
    return out


def parse_size(text: str) -> int:
    """Bytes from "2GB", "500 MB", "1.5GiB", "800k", "0" (powers of 1000 for kB/MB/GB/TB,
    1024 for KiB/MiB/GiB/TiB; a bare number is bytes).

    Raises:
        ValueError: not a size.
    """
    units = {"": 1, "b": 1, "k": 10**3, "kb": 10**3, "m": 10**6, "mb": 10**6, "g": 10**9,
             "gb": 10**9, "t": 10**12, "tb": 10**12, "kib": 2**10, "mib": 2**20,
             "gib": 2**30, "tib": 2**40}
    cleaned = text.strip().lower().replace(" ", "").replace("_", "")
    number = cleaned.rstrip("abcdefghijklmnopqrstuvwxyz")
    unit = cleaned[len(number):]
    if not number or unit not in units:
        raise ValueError(f"{text!r} is not a size (e.g. 2GB, 500MB, 1.5GiB)")
    try:
        value = float(number)
    except ValueError:
        raise ValueError(f"{text!r} is not a size (e.g. 2GB, 500MB, 1.5GiB)") from None
    if not 0 <= value < float("inf"):
        raise ValueError(f"{text!r} is not a size (e.g. 2GB, 500MB, 1.5GiB)")
    return int(value * units[unit])
