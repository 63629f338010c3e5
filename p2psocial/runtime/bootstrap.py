"""Bootstrap relays: reachability for a node that has no relay of its own yet.

Rules:
- `bootstrap_relays` (config) are relay addresses used only while I have no relays of my own
  (none published in my `relays` entry, none in config `relays`), and never by a node that is
  itself a relay. While used, they are kept exactly like my relays (join, reservation,
  renewal, failover) by the relay keepers; they are never published in my log.
- Once I have a relay of my own they are dropped (their keepers stop); if I remove all my
  relays again they are used again.
- The switch is logged once each way, not at every refresh.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

log = logging.getLogger(__name__)


class Bootstrap:
    """Decides which relays the keepers hold: mine, or else the bootstrap list."""

    def __init__(self, addrs: Sequence[str], *, is_relay: bool = False) -> None:
        self.addrs: list[str] = [] if is_relay else list(dict.fromkeys(addrs))
        self.in_use = False

    def relays_to_keep(self, mine: Sequence[str]) -> list[str]:
        """The relays to hold a reservation on, given my own (published and configured)."""
        use = not mine and bool(self.addrs)
        if use and not self.in_use:
            log.info("no relays of my own: holding a reservation on the bootstrap relays %s "
                     "(not published; `p2psocial relays add` makes one mine)",
                     ", ".join(self.addrs))
        elif self.in_use and not use:
            log.info("I have relays of my own: no longer using the bootstrap relays")
        self.in_use = use
        return list(self.addrs) if use else list(mine)

    def is_bootstrap(self, addr: str) -> bool:
        """True if `addr` is held only because it is a bootstrap relay."""
        return self.in_use and addr in self.addrs
