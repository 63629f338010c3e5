"""My relays and invites: the relays entry in my log, the invite tokens I hand out, and
the addresses learnt from others' invites.

Rules:
- A relay address is a full `/…/p2p/<relay>` address, never a circuit address.
- The invite a relay asked for is kept (meta `relay-invite:<relay>`) to present on joining.
"""

from __future__ import annotations

import time

from p2psocial.core import limits
from p2psocial.core.content import Relays
from p2psocial.core.errors import UsageError
from p2psocial.core.identity import parse_handle
from p2psocial.core.invite import create_invite, decode_invite, encode_invite
from p2psocial.runtime.service.base import HINTS_PREFIX, ServiceCore, hint_list


def relay_token_key(addr: str) -> str:
    """Meta key of the invite to present when joining the relay at `addr`."""
    return "relay-invite:" + addr.rsplit("/p2p/", 1)[-1]


def _relay_addr(addr: str) -> str:
    addr = addr.strip()
    head, sep, peer = addr.rpartition("/p2p/")
    if not addr.startswith("/") or not sep or not head or "/" in peer or " " in addr \
            or "/p2p-circuit" in addr:
        raise UsageError(f"not a relay address: {addr!r:.120} "
                         "(expected /ip4/…/tcp/…/p2p/<relay>)")
    parse_handle(peer)
    return addr


class RelaysService(ServiceCore):
    """My relays and invites."""

    async def add_relay(self, addr: str, invite: str | None = None) -> list[str]:
        """Add a relay (its full address, `…/p2p/<relay>`) to my published relays entry;
        `invite` is a token to present if the relay admits invited users only."""
        addr = _relay_addr(addr)
        if invite is not None:
            decode_invite(invite)
            await self.store.set_meta(relay_token_key(addr), invite.strip().encode())
        current = await self.relays()
        if addr in current:
            raise UsageError(f"{addr} is already one of your relays")
        if len(current) >= limits.MAX_RELAY_ADDRS:
            raise UsageError(f"you have {len(current)} relays already (the most is "
                             f"{limits.MAX_RELAY_ADDRS}): remove one first")
        await self.append(Relays(addrs=(*current, addr)))
        return [*current, addr]

    async def remove_relay(self, addr: str) -> list[str]:
        """Remove a relay from my published relays entry."""
        current = await self.relays()
        if addr not in current:
            raise UsageError(f"{addr:.120} is not one of your relays (see `p2psocial relays list`)")
        rest = tuple(a for a in current if a != addr)
        await self.append(Relays(addrs=rest))
        return list(rest)

    async def invite(self, uses: int | None = None, expires_hours: float | None = None
                     ) -> str:
        """An invite token to me: my handle and my relays, optionally limited."""
        if uses is not None and uses < 1:
            raise UsageError("--uses must be at least 1")
        if expires_hours is not None and not 0 < expires_hours <= 876_000:
            raise UsageError("--expires must be a positive number of hours (at most 100 years)")
        expires_ms = None if expires_hours is None else \
            int(time.time() * 1000 + expires_hours * 3_600_000)
        made = create_invite(self.identity(), tuple(await self.relays()),
                             expires_ms=expires_ms, uses=uses)
        return encode_invite(made)

    async def all_address_hints(self) -> dict[str, list[str]]:
        """`address_hints` of every feed that has some, by handle."""
        found = await self.store.meta_with_prefix(HINTS_PREFIX)
        return {handle: hint_list(raw) for handle, raw in found.items()}
