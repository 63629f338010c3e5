"""Peers and addresses as plain values, and their conversion to and from libp2p's types.

Rules:
- Outside p2psocial.net a peer is its handle (the PeerID string, `12D3KooW…`) and an address is
  a multiaddr string. libp2p's `ID`, `PeerInfo` and `Multiaddr` never leave this package.
- A *full* address names the peer at its end: `/ip4/1.2.3.4/tcp/4001/p2p/12D3KooW…`. A relayed
  one names the relay and then the peer: `…/p2p/<relay>/p2p-circuit/p2p/<peer>`.
  `PeerInfo.addrs` holds transport addresses without the final `/p2p/<peer>`.
- Parsing failures raise AddressError; nothing here does I/O.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import base58
import multiaddr
from libp2p.peer.id import ID
from libp2p.peer.peerinfo import PeerInfo as LibPeerInfo
from libp2p.utils.address_validation import get_available_interfaces

from p2psocial.net.errors import AddressError

_P2P = "/p2p/"
_CIRCUIT = "/p2p-circuit"


class Route(enum.Enum):
    """How a connection reaches the peer."""

    DIRECT = "direct"    # a transport connection to the peer's own address
    RELAYED = "relayed"  # through a circuit relay (`/p2p-circuit`)
    LAN = "lan"          # direct, to a peer found on the local network by mDNS


class Direction(enum.Enum):
    """Who opened the connection."""

    INBOUND = "inbound"
    OUTBOUND = "outbound"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class PeerInfo:
    """A peer and the transport addresses it may be reached at (without `/p2p/<peer>`)."""

    peer: str
    addrs: tuple[str, ...] = ()

    def full_addrs(self) -> list[str]:
        """Each address with `/p2p/<peer>` appended: what another node passes to `dial`."""
        return [f"{addr}{_P2P}{self.peer}" for addr in self.addrs]


@dataclass(frozen=True, slots=True)
class ConnectedPeer:
    """A live connection: who, at which remote address, by which route, opened by whom, and
    the security and muxer protocols it negotiated ("" if unknown)."""

    peer: str
    remote_addr: str
    route: Route
    direction: Direction
    security: str = ""
    muxer: str = ""


def peer_id(handle: str) -> ID:
    """libp2p's ID for a handle (PeerID string). Raises AddressError if it is not one."""
    try:
        raw = base58.b58decode(handle)
    except ValueError as exc:
        raise AddressError(f"not a peer id: {_shown(handle)}") from exc
    # A PeerID is a multihash: <code> <length> <digest>, identity (0x00) or sha2-256 (0x12).
    if len(raw) < 3 or raw[0] not in (0x00, 0x12) or raw[1] != len(raw) - 2:
        raise AddressError(f"not a peer id: {_shown(handle)}")
    return ID(raw)


def parse_multiaddr(text: str) -> multiaddr.Multiaddr:
    """Parse a multiaddr string. Raises AddressError."""
    if not text or not text.startswith("/"):
        raise AddressError(f"not a multiaddr: {_shown(text)}")
    try:
        return multiaddr.Multiaddr(text)
    except (ValueError, TypeError) as exc:
        raise AddressError(f"not a multiaddr: {_shown(text)} ({_cut(str(exc))})") from exc


def parse_peer_addr(text: str) -> PeerInfo:
    """Split a full address (`…/p2p/<peer>`) into the peer and its transport address.

    Raises:
        AddressError: not a multiaddr, or it does not end with `/p2p/<peer>`.
    """
    parse_multiaddr(text)
    head, sep, handle = text.rpartition(_P2P)
    if not sep or "/" in handle:
        raise AddressError(f"address does not end with /p2p/<peer id>: {_shown(text)}")
    peer_id(handle)
    return PeerInfo(handle, (head,) if head else ())


def is_relayed(addr: str) -> bool:
    """True if the address goes through a circuit relay."""
    return _CIRCUIT in addr


def to_libp2p(info: PeerInfo) -> LibPeerInfo:
    """libp2p's PeerInfo for one of ours. Raises AddressError."""
    return LibPeerInfo(peer_id(info.peer), [parse_multiaddr(a) for a in info.addrs])


def from_libp2p(info: LibPeerInfo) -> PeerInfo:
    """Our PeerInfo for one of libp2p's (addresses deduplicated, order kept)."""
    return PeerInfo(str(info.peer_id), _strip_peer(info.addrs, str(info.peer_id)))


def merge(infos: Iterable[PeerInfo]) -> list[PeerInfo]:
    """One PeerInfo per peer, in first-seen order, with the union of their addresses."""
    merged: dict[str, list[str]] = {}
    for info in infos:
        addrs = merged.setdefault(info.peer, [])
        addrs.extend(a for a in info.addrs if a not in addrs)
    return [PeerInfo(peer, tuple(addrs)) for peer, addrs in merged.items()]


def expand_wildcards(addrs: Iterable[str]) -> list[str]:
    """Replace each `/ip4/0.0.0.0/tcp/P` (or `/ip6/::/tcp/P`) by one address per local interface.

    A host listening on all interfaces must not tell others to dial 0.0.0.0 (on Linux that
    reaches the dialler's own machine). Loopback stays in the list; libp2p skips loopback
    addresses when it has others for a peer.
    """
    out: list[str] = []
    for addr in addrs:
        parts = addr.split("/")  # "", "ip4", "0.0.0.0", "tcp", "P", ...
        if len(parts) >= 5 and parts[1:3] in (["ip4", "0.0.0.0"], ["ip6", "::"]) \
                and parts[3] == "tcp":
            family = parts[1]
            rest = "/".join(parts[5:])
            for iface in get_available_interfaces(int(parts[4])):
                text = str(iface)
                if text.startswith(f"/{family}/"):
                    out.append(f"{text}/{rest}" if rest else text)
        else:
            out.append(addr)
    return list(dict.fromkeys(out))


def _strip_peer(addrs: Sequence[object], handle: str) -> tuple[str, ...]:
    suffix = f"{_P2P}{handle}"
    out: list[str] = []
    for addr in addrs:
        text = str(addr).removesuffix(suffix)
        if text and text not in out:
            out.append(text)
    return tuple(out)


def _shown(text: str, most: int = 80) -> str:
    """`text` quoted for an error line, cut to `most` characters (a pasted novel is not echoed
    back whole)."""
    return repr(text) if len(text) <= most else repr(text[:most]) + f"… ({len(text):,} characters)"


def _cut(text: str, most: int = 120) -> str:
    """A library's message for an error line, cut to `most` characters."""
    return text if len(text) <= most else text[:most] + "…"
