"""Which peers I refuse, which refused me, and which of two sessions with one peer stays (pure).

Rules:
- A strike (`strike`: the peer broke the protocol, sent an invalid entry or a fork) refuses
  the peer for BAN_SECONDS × its strikes so far; strikes add up while they are remembered.
- A refusal from the peer (`refused_me`, with the seconds it asked for) means no session
  with it before then; a later refusal never shortens an earlier one.
- `refusing(peer)`: I refuse it (its streams are refused, its connections closed).
  `waiting(peer)`: I refuse it or it asked me to wait: no dialling, no session opened.
- Bounded: a peer's strikes are forgotten STRIKE_MEMORY_SECONDS after its ban ends, and a
  refusal once its time has passed (at every strike or refusal), so the tables hold only
  peers with something pending or recent: throwaway identities cannot grow them for good.
- Two sessions with one peer (`keeps_existing`): an open session stays against a new one
  only if the two were opened by different sides and the existing one is the one the side
  with the lower key opened; a new one opened by the same side as the existing one replaces
  it (that side is done with the old one, whose connection may be gone unseen here yet).
- Time is passed in (monotonic seconds); nothing here reads a clock or does I/O.
"""

from __future__ import annotations

BAN_SECONDS = 60.0
STRIKE_MEMORY_SECONDS = 3600.0  # strikes are forgotten this long after a ban ends


class PeerBook:
    """Bans, strikes and refusals by peer id (a handle)."""

    def __init__(self) -> None:
        self._strikes: dict[str, int] = {}
        self._banned_until: dict[str, float] = {}  # peers I refuse, until when
        self._retry_at: dict[str, float] = {}      # peers that refused me: not before

    def strike(self, peer: str, now: float) -> float:
        """Refuse `peer` for longer each time; returns for how many seconds."""
        self.forget_old(now)
        strikes = self._strikes.get(peer, 0) + 1
        self._strikes[peer] = strikes
        seconds = BAN_SECONDS * strikes
        self._banned_until[peer] = now + seconds
        return seconds

    def refused_me(self, peer: str, seconds: float, now: float) -> None:
        """`peer` refused me and asked me to come back after `seconds`."""
        self.forget_old(now)
        self._retry_at[peer] = max(self._retry_at.get(peer, 0.0), now + seconds)

    def refusing(self, peer: str, now: float) -> bool:
        """True while I refuse `peer`."""
        return self._banned_until.get(peer, 0.0) > now

    def refused_until(self, peer: str) -> float:
        """When my refusal of `peer` ends (0 if it never was refused, or is forgotten)."""
        return self._banned_until.get(peer, 0.0)

    def waiting(self, peer: str, now: float) -> bool:
        """True while I refuse `peer` or it asked me to wait: no dialling it."""
        return max(self._banned_until.get(peer, 0.0), self._retry_at.get(peer, 0.0)) > now

    def asked_to_wait(self, peer: str) -> bool:
        """Whether a refusal from `peer` is remembered (diagnostics)."""
        return peer in self._retry_at

    def forget_old(self, now: float) -> None:
        """Drop strikes STRIKE_MEMORY_SECONDS past their ban, and refusals past their time."""
        for peer, until in list(self._banned_until.items()):
            if until + STRIKE_MEMORY_SECONDS < now:
                del self._banned_until[peer]
                self._strikes.pop(peer, None)
        for peer, until in list(self._retry_at.items()):
            if until < now:
                del self._retry_at[peer]

    def __len__(self) -> int:
        """Peers with a remembered strike or refusal."""
        return len(self._banned_until.keys() | self._retry_at.keys())


def keeps_existing(existing_outbound: bool, new_outbound: bool, i_am_lower: bool) -> bool:
    """Whether an open session with a peer stays and a new one with it is turned away
    (`i_am_lower`: my key sorts before the peer's)."""
    return existing_outbound != new_outbound and existing_outbound == i_am_lower
