"""When a restored identity may write again (pure: no I/O, the clock is passed in).

A node whose own feed may be older than the network's copy (an imported backup, a lost
database) must not append until it has learnt its newest entry, or it forks its own feed.
One peer is not enough: a peer holding an old copy would be believed. So:

Rules (docs/protocol.md, "Forks", R1–R4):
- R1: every head of my feed a peer offers (its HAVE range's `hi`) is noted; the target is the
  highest head offered so far.
- R2: the listening window opens when the first peer that offered a head (`hi` > 0) has
  caught up, and lasts `window` seconds.
- R3: writing is allowed once the window has closed and my store holds my feed up to the
  target (my `hi` >= target). A head offered after the window closed raises the target just
  the same, as long as writing is not yet allowed.
- R4: once allowed, the gate is done: later offers change nothing (what the node writes next
  is the newest entry of the feed).
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(slots=True)
class RestoreGate:
    """The decision for one restored feed. Call `offered` and `caught_up` as peers speak,
    and `may_write` with my held head to ask."""

    window: float
    target: int = 0
    opened_at: float | None = None
    done: bool = False
    _holders: set[str] = field(default_factory=set)

    def offered(self, peer: str, hi: int) -> None:
        """`peer` holds my feed up to `hi` (R1)."""
        if self.done or hi <= 0:
            return
        self._holders.add(peer)
        self.target = max(self.target, hi)

    def caught_up(self, peer: str, now: float) -> bool:
        """`peer` has sent all it holds of my wants. True if this opened the window (R2)."""
        if self.done or self.opened_at is not None or peer not in self._holders:
            return False
        self.opened_at = now
        return True

    def closes_at(self) -> float | None:
        """When the window closes (None while it is not open)."""
        return None if self.opened_at is None else self.opened_at + self.window

    def may_write(self, held_hi: int, now: float) -> bool:
        """True once writing is allowed (R3); stays True afterwards (R4)."""
        if self.done:
            return True
        closes = self.closes_at()
        if closes is None or now < closes or held_hi < self.target:
            return False
        self.done = True
        return True
