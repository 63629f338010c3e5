"""Using relays: stay a member of my relays with a fresh reservation; reach followed authors.

Rules:
- My relays are the addresses in my latest `relays` entry plus `relays` in the node config.
  For each, one keeper task: dial, join (presenting the invite noted for that relay, if
  any, and naming this device's account, if it belongs to one (HOME/account.json): the
  relay then keeps the account's ops and device feeds, spec J3; a relay that does not
  serve the join protocol is a plain circuit relay v2 server, any libp2p implementation's:
  nothing to join, it is used for reservations and relayed dials only, and `status` says
  so), reserve a circuit, renew RENEW_MARGIN before expiry; after a failure (relay gone,
  restarted, refusing) retry with backoff up to MAX_BACKOFF (REFUSED_BACKOFF after a
  refusal).
  Losing one relay never touches the others.
- Every look_seconds, for each feed I follow directly: dial the relays its author published
  and the addresses an invite gave for it (those not connected already). Only if no connected
  peer then keeps the feed (a p2psocial relay keeps its members' feeds; a plain relay keeps
  nothing) dial the author through a relay: those it published, those its invite named, then
  my own (a relay we share: a follower that knows only the handle), and if that fails too,
  look the feed up on the DHT (the author, and who provides it).
- Whatever happens to a relay is shown by `status` and logged once per change of state; the
  same change again (retries, a relay that flaps) at most once per 5 minutes, renewals at
  DEBUG, and a relay granting reservations shorter than SHORT_RESERVATION gets one warning
  (runtime/quiet_log.py).
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import Any

from p2psocial.core.errors import KeyfileError, NetError, ProtocolError
from p2psocial.core.identity import handle_of
from p2psocial.core.relay_policy import JOIN_PROTOCOL, join_request, parse_join_answer
from p2psocial.net import Host, ProtocolNotSupported, ReservationRefused
from p2psocial.runtime.account_home import read_account
from p2psocial.runtime.bootstrap import Bootstrap
from p2psocial.runtime.quiet_log import QuietLog
from p2psocial.runtime.service import relay_token_key

log = logging.getLogger(__name__)
RENEW_MARGIN = 0.2          # renew when this fraction of the reservation's life is left
MAX_BACKOFF = 2.0            # at most this long between dials of a relay that is away
REFUSED_BACKOFF = 120.0
SHORT_RESERVATION = 60.0     # a relay granting less is expiring reservations early
WATCH_SECONDS = 1.0          # how often a keeper checks that its relay is still connected
PLAIN_RELAY = "plain relay: no store-and-forward"   # a relay without the join protocol


@dataclass(slots=True)
class RelayState:
    """What we know of one of my relays."""

    addr: str
    state: str = "connecting"   # connecting | reserved | refused | unreachable
    detail: str = ""
    expires: float = 0.0

    def to_json(self) -> dict[str, Any]:
        """For `status --json` and the UI."""
        return {"addr": self.addr, "state": self.state, "detail": self.detail,
                "expires": self.expires}


class RelayClient:
    """The relay-using part of a node's replicator."""

    def __init__(self, replicator: Any, bridge: Any, host: Host) -> None:
        self._replicator = replicator
        self._bridge = bridge
        self._host = host
        node = replicator.node
        self._store = node.store
        self._config = node.config
        self._keepers: dict[str, asyncio.Task[None]] = {}
        self.states: dict[str, RelayState] = {}
        self._quiet = QuietLog(log)
        self.bootstrap = Bootstrap(self._config.bootstrap_relays, is_relay=self._config.relay)

    # --- my relays --------------------------------------------------------------------------

    async def my_relays(self) -> list[str]:
        """My published relays, then the configured ones."""
        published = await self._store.relay_list(self._replicator.me)
        return list(dict.fromkeys([*published, *self._config.relays]))

    async def refresh(self) -> None:
        """Start keepers for new relays, stop those of relays I dropped."""
        reserved = {a for a, st in self.states.items() if st.state == "reserved"}
        wanted = self.bootstrap.relays_to_keep(await self.my_relays(), reserved)
        for addr in [a for a in self._keepers if a not in wanted]:
            self._keepers.pop(addr).cancel()
            self.states.pop(addr, None)
            log.info("relay %s: no longer one of mine", addr)
        for addr in wanted:
            if addr not in self._keepers:
                self.states[addr] = RelayState(addr)
                self._keepers[addr] = self._replicator.spawn(self._keep(addr), "relay")

    def stop(self) -> None:
        """Stop every keeper."""
        for task in self._keepers.values():
            task.cancel()
        self._keepers.clear()

    async def _keep(self, addr: str) -> None:
        state = self.states[addr]
        relay = addr.rsplit("/p2p/", 1)[-1]
        backoff = 1.0
        while True:
            try:
                await self._bridge.run(self._host.dial, addr)
                member = await self._join(addr, relay)
                expires = await self._bridge.run(self._host.reserve, relay)
            except ReservationRefused as exc:
                self._set(state, "refused", str(exc))
                await asyncio.sleep(REFUSED_BACKOFF)
                continue
            except (NetError, ProtocolError) as exc:
                self._set(state, "unreachable", str(exc))
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF)
                continue
            backoff = 1.0
            state.expires = expires
            until = time.strftime("%H:%M:%S", time.localtime(expires))
            plain = "" if member else f"{PLAIN_RELAY}; "
            self._set(state, "reserved", f"{plain}until {until}")
            if member:  # a p2psocial relay keeps feeds: sync with it (a plain one has none)
                self._replicator.peer_reachable(relay)
            await self._hold(relay, expires)

    async def _hold(self, relay: str, expires: float) -> None:
        """Return when the reservation should be renewed or the relay went away."""
        renew_at = time.time() + max(1.0, (expires - time.time()) * (1 - RENEW_MARGIN))
        while time.time() < renew_at:
            await asyncio.sleep(WATCH_SECONDS)
            if not await self._bridge.run_sync(self._host.is_connected, relay):
                return

    async def _join(self, addr: str, relay: str) -> bool:
        """Become (or stay) a member of the relay: True if it is a p2psocial relay that
        admitted me, False if it is a plain circuit relay (no join protocol: nothing to join,
        the reservation is all). Raises ReservationRefused if a p2psocial relay says no."""
        token_raw = await self._store.get_meta(relay_token_key(addr))
        token = token_raw.decode() if token_raw else None
        try:
            answer = await self._bridge.run(_ask_to_join, self._host, relay,
                                            join_request(token, self._my_account()))
        except ProtocolNotSupported:
            return False
        admitted, reason, _quota = parse_join_answer(answer)
        if not admitted:
            raise ReservationRefused(f"refused: {reason}")
        return True

    def _my_account(self) -> bytes | None:
        """The account this device belongs to (read at each join: it may change), or None
        for a single-key identity (its key is its account)."""
        try:
            local = read_account(self._replicator.node.home)
        except KeyfileError as exc:
            log.warning("joining relays without naming this home's account: %s", exc)
            return None
        if local is None or local.account == self._replicator.me:
            return None
        return local.account

    def _set(self, state: RelayState, new: str, detail: str) -> None:
        if (state.state, state.detail) != (new, detail):  # retries, flapping: rate-limited
            level = logging.WARNING if new in ("refused", "unreachable") else logging.INFO
            if state.state == new == "reserved":
                level = logging.DEBUG  # a renewal is routine
            self._quiet.log((state.addr, state.state, new), level,
                            f"relay {state.addr}: {new}" + (f" ({detail})" if detail else ""))
        if new == "reserved" and state.expires - time.time() < SHORT_RESERVATION:
            self._quiet.log((state.addr, "short"), logging.WARNING,
                            f"relay {state.addr}: grants reservations of only "
                            f"{max(0.0, state.expires - time.time()):.0f} s (renewing as often)")
        state.state, state.detail = new, detail
        if new == "reserved" and self.bootstrap.settles(state.addr):
            self._replicator.spawn(self.refresh(), "relays")  # bootstrap relays: let go

    # --- reaching the authors I follow -----------------------------------------------------

    async def reach_authors(self, feeds: list[bytes]) -> None:
        """Dial where each of `feeds` can be found; look up on the DHT those nobody serves."""
        lost: list[bytes] = []
        relay_lists = await self._store.relay_lists(feeds)
        all_hints = await self._replicator.node.service.all_address_hints()
        mine = await self.my_relays()
        me = self._replicator.node.handle
        for feed in feeds:
            handle = handle_of(feed)
            relays = relay_lists.get(feed, [])
            hints = all_hints.get(handle, [])
            fresh = False
            for addr in dict.fromkeys([*relays, *hints]):
                if addr.rsplit("/p2p/", 1)[-1] != me:
                    fresh |= await self._dial_new(addr)
            if fresh or self._replicator.served(feed) or self._replicator.is_connected(handle):
                continue  # (a peer just dialled says what it keeps by the next round)
            # nobody connected keeps this feed: reach the author through a relay (a relayed
            # connection costs the relay bytes for every entry, so only then): those it
            # published, those an invite named, then mine (a relay we may share)
            named = [a for a in hints if _relay_addr(a, handle)]
            for addr in dict.fromkeys([*relays, *named, *mine]):
                if await self._replicator.dial_quietly(f"{addr}/p2p-circuit/p2p/{handle}"):
                    break
            if not self._replicator.served(feed):
                lost.append(feed)
        if lost and self._config.dht:
            await self._replicator.look_up(lost)

    async def _dial_new(self, addr: str) -> bool:
        """Dial `addr` unless its peer is connected already; True if this connected it.
        (A plain relay never opens a sync session, so "no session" is not "not connected".)"""
        peer = addr.rsplit("/p2p/", 1)[-1]
        if await self._bridge.run_sync(self._host.is_connected, peer):
            return False
        return bool(await self._replicator.dial_quietly(addr))


def _relay_addr(addr: str, author: str) -> bool:
    """True if `addr` names some peer other than `author` directly (a relay to try)."""
    return "/p2p/" in addr and "/p2p-circuit" not in addr and \
        addr.rsplit("/p2p/", 1)[-1] != author


async def _ask_to_join(host: Host, relay: str, request: bytes) -> bytes:
    """(trio) One join exchange: send the request, read the answer to the end."""
    async with await host.open_stream(relay, JOIN_PROTOCOL) as channel:
        await channel.send_all(request)
        await channel.send_eof()
        data = b""
        while len(data) < 8192:
            chunk = await channel.receive_some()
            if not chunk:
                break
            data += chunk
        return data
