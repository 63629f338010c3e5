"""Bootstrap relays: reachability for a node that has no relay of its own yet.

Rules:
- `bootstrap_relays` (config) are relay addresses used only while none of my own relays
  (published in my `relays` entry, or in config `relays`) holds a reservation, and never by
  a node that is itself a relay. While used, they are kept exactly like my relays (join,
  reservation, renewal, failover) by the relay keepers; they are never published in my log.
- Whether to use them is decided when my relays change and when one of mine gets a
  reservation: a relay of mine that refuses or cannot be reached does not make me give up
  the bootstrap relays, one that reserves does (their keepers stop). If I remove all my
  relays again they are used again.
- The switch is logged once each way, not at every refresh.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Sequence

log = logging.getLogger(__name__)


class Bootstrap:
    """Decides which relays the keepers hold: mine, or else the bootstrap list."""

    def __init__(self, addrs: Sequence[str], *, is_relay: bool = False) -> None:
        self.addrs: list[str] = [] if is_relay else list(dict.fromkeys(addrs))
        self.in_use = False

    def relays_to_keep(self, mine: Sequence[str], reserved: Collection[str] = ()) -> list[str]:
        """The relays to hold a reservation on, given my own (published and configured) and
        the relays holding a reservation of mine now."""
        has_own = any(a in reserved and a not in self.addrs for a in mine)
        use = bool(self.addrs) and not has_own
        if use and not self.in_use:
            log.info("no relay of my own holds a reservation: holding one on the bootstrap "
                     "relays %s (not published; `p2psocial relays add` makes one mine)",
                     ", ".join(self.addrs))
        elif self.in_use and not use:
            log.info("a relay of my own holds my reservation: no longer using the bootstrap "
                     "relays")
        self.in_use = use
        return list(dict.fromkeys([*mine, *self.addrs])) if use else list(mine)

    def settles(self, addr: str) -> bool:
        """True if a reservation on `addr` should end the use of the bootstrap relays."""
        return self.in_use and addr not in self.addrs
