"""What a relay tells its operator at start: the address to share and how to join.

Rules:
- The shareable addresses are the relay's listen addresses (with /p2p/<id>), public ones first;
  loopback and link-local addresses are left out whenever the relay has any other.
- Under the invite policy a join needs a token: the relay's standing join invite, signed by the
  relay (so its own policy admits it), unlimited in uses and time, naming the shareable
  addresses. It keeps one nonce (meta key "relay:join-invite-nonce"), so the token printed at
  each start stays valid; limited invites are made with `p2psocial invite --uses N` on the
  relay's home. Under the open and allowlist policies the address suffices.
"""

from __future__ import annotations

import ipaddress
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from p2psocial.core.identity import Identity
from p2psocial.core.invite import (
    INVITE_NONCE_BYTES,
    MAX_INVITE_ADDRS,
    create_invite,
    encode_invite,
)
from p2psocial.core.relay_policy import Policy

NONCE_KEY = "relay:join-invite-nonce"


@dataclass(frozen=True, slots=True)
class RelayCard:
    """The relay's shareable addresses and, under the invite policy, its join token."""

    addrs: list[str]
    policy: Policy
    token: str | None

    def lines(self) -> list[str]:
        """The text printed on stdout at start, one item a line, ready to copy."""
        if not self.addrs:
            return ["relay: no address to share (check --listen)"]
        out = [f"relay address: {self.addrs[0]}"]
        out += [f"also reachable at: {a}" for a in self.addrs[1:]]
        join = f"p2psocial relays add {self.addrs[0]}"
        if self.token is not None:
            out.append(f"join invite: {self.token}")
            out.append(f"to join: {join} --invite {self.token}")
        elif self.policy is Policy.ALLOWLIST:
            out.append(f"to join (handles in relay_allow only; no invite needed): {join}")
        else:
            out.append(f"to join (open relay: the address suffices, no invite needed): {join}")
        return out


def _rank(addr: str) -> int:
    """0 public, 1 private or a name, 2 loopback or link-local."""
    parts = addr.split("/")
    if len(parts) < 3 or parts[1] not in ("ip4", "ip6"):
        return 1
    try:
        ip = ipaddress.ip_address(parts[2])
    except ValueError:
        return 1
    if ip.is_loopback or ip.is_link_local or ip.is_unspecified:
        return 2
    return 0 if ip.is_global else 1


def shareable_addrs(addrs: Sequence[str]) -> list[str]:
    """Full addresses worth sharing, best first (see the module rules)."""
    ranked = sorted(dict.fromkeys(a for a in addrs if "/p2p/" in a), key=_rank)
    others = [a for a in ranked if _rank(a) < 2]
    return others or ranked


async def relay_card(store: Any, identity: Identity, policy: Policy,
                     listen_addrs: Sequence[str]) -> RelayCard:
    """The card of a relay listening on `listen_addrs` (making its join nonce on first use)."""
    addrs = shareable_addrs(listen_addrs)
    token = None
    if policy is Policy.INVITE:
        nonce = await store.get_meta(NONCE_KEY)
        if nonce is None or len(nonce) != INVITE_NONCE_BYTES:
            nonce = secrets.token_bytes(INVITE_NONCE_BYTES)
            await store.set_meta(NONCE_KEY, nonce)
        token = encode_invite(create_invite(identity, addrs[:MAX_INVITE_ADDRS], nonce=nonce))
    return RelayCard(addrs, policy, token)
