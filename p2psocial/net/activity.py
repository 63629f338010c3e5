"""When each connection last heard from its peer: keepalive pings only connections gone quiet.

Rules:
- `install()` wraps py-libp2p's SecureSession.read (the decrypted byte stream every muxed
  frame of a connection is read from) so that each read that returns bytes stamps the session
  with `time.monotonic()`. Bytes that decrypt came from the peer over this connection: it was
  alive at that moment, whatever stream they were for (a sync frame, gossip, a ping, its pong).
- `last_heard(conn)` is that stamp for a libp2p connection (INetConn), or None when nothing
  was read yet or the internals are missing.
- Installing is idempotent, and a no-op if the internal is missing (keepalive then pings
  every interval, as before; tests/net/test_keepalive.py catches it).
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from libp2p.security import secure_session

from p2psocial.net.patching import wrap_method

logger = logging.getLogger(__name__)

_STAMP = "_p2psocial_heard"


def install() -> None:
    """Patch SecureSession.read to remember when the peer was last heard."""
    wrap_method(getattr(secure_session, "SecureSession", None), "read", _stamping,
                what="connections are not stamped when heard")


def _stamping(original: Callable[..., Awaitable[bytes]]) -> Callable[..., Awaitable[bytes]]:
    @functools.wraps(original)
    async def read(self: Any, n: int | None = None) -> bytes:
        data = await original(self, n)
        if data:
            setattr(self, _STAMP, time.monotonic())
        return data

    return read


def last_heard(conn: Any) -> float | None:
    """When bytes last arrived on this libp2p connection (time.monotonic()), if known."""
    secured = getattr(getattr(conn, "muxed_conn", None), "secured_conn", None)
    stamp = getattr(secured, _STAMP, None)
    return stamp if isinstance(stamp, float) else None
