"""The errors p2psocial.net raises, translated from libp2p, multiaddr and trio at the boundary.

    NetError (p2psocial.core.errors)
    ├── HostClosed               the host is not running: not started yet, or stopped
    ├── AddressError             a multiaddr, peer id or protocol we cannot use (our input)
    ├── ListenFailed             the host could not listen on a configured address
    ├── DialFailed               no connection to the peer could be made
    │   └── DialTimeout          ... within the dial timeout (also a Timeout)
    ├── StreamOpenFailed         connected, but no stream on that protocol could be opened
    │   ├── ProtocolNotSupported the peer does not speak the protocol
    │   └── StreamOpenTimeout    ... within the stream-open timeout (also a Timeout)
    ├── StreamClosed             the stream can no longer carry data (closed here, or broken)
    │   └── StreamReset          the peer or the connection reset it
    ├── Timeout                  a network operation did not finish within its deadline
    ├── PubsubError              gossip could not publish or subscribe
    └── DiscoveryError           a DHT operation failed ("nothing found" is None or [], not this)

Rules:
- Every libp2p, multiaddr or trio-timeout exception that leaves p2psocial.net is one of these,
  raised with `raise ... from exc`, so the cause stays in the traceback.
- Every timeout is a `Timeout`. A dial or stream-open timeout is also a `DialFailed` or
  `StreamOpenFailed`, so one `except` catches every failure of that step.
- After a `Timeout` on a stream the stream's state is unknown: reset it and open a new one.
"""

from __future__ import annotations

from p2psocial.core.errors import NetError

__all__ = [
    "AddressError",
    "DialFailed",
    "DialTimeout",
    "DiscoveryError",
    "HostClosed",
    "ListenFailed",
    "NetError",
    "ProtocolNotSupported",
    "PubsubError",
    "StreamClosed",
    "StreamOpenFailed",
    "StreamOpenTimeout",
    "StreamReset",
    "Timeout",
]


class HostClosed(NetError):
    """The host is not running: `serve()` has not reported started yet, or it has stopped."""


class AddressError(NetError):
    """A multiaddr, peer id or protocol id that cannot be parsed or used."""


class ListenFailed(NetError):
    """The host could not listen on every configured address (port taken, not a local IP)."""


class Timeout(NetError):
    """A network operation did not finish within its deadline."""


class DialFailed(NetError):
    """No connection to the peer could be made (refused, unreachable, handshake failed)."""


class DialTimeout(DialFailed, Timeout):
    """The dial did not finish within the dial timeout."""


class StreamOpenFailed(NetError):
    """A connection exists (or was made), but no stream on the protocol could be opened."""


class ProtocolNotSupported(StreamOpenFailed):
    """The peer does not speak the requested protocol."""


class StreamOpenTimeout(StreamOpenFailed, Timeout):
    """Opening the stream (dial included) did not finish within its timeout."""


class StreamClosed(NetError):
    """The stream can no longer carry data: closed here, or its connection is gone."""


class StreamReset(StreamClosed):
    """The stream was reset by the peer or by the connection breaking."""


class PubsubError(NetError):
    """Gossip could not publish or subscribe."""


class ReservationRefused(NetError):
    """A relay refused a circuit reservation (not a relay, its policy, or it is full)."""


class DiscoveryError(NetError):
    """A DHT operation failed. Finding nothing is not an error: it returns None or []."""


def causes_text(exc: BaseException) -> str:
    """The messages of `exc` and its causes, lowercased (libp2p hides the reason in them)."""
    parts: list[str] = []
    seen: BaseException | None = exc
    while seen is not None and len(parts) < 8:
        parts.append(str(seen).lower())
        seen = seen.__cause__ or seen.__context__
    return " | ".join(parts)

