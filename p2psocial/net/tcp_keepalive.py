"""TCP keepalive in the kernel: a dead direct connection is found without waking the node.

Rules:
- Every TCP connection libp2p makes or accepts (py-libp2p wraps each in a TrioTCPStream) gets
  SO_KEEPALIVE with KEEPIDLE s of silence before the first probe and a probe every
  KEEPINTVL s, and TCP_USER_TIMEOUT: once nothing sent (data or probe) is acknowledged for
  USER_TIMEOUT_MS the kernel drops the connection (Linux lets this timeout decide for
  keepalive probes too, KEEPCNT then only where it is missing). So a dead connection is
  dropped ~12 s after the last packet it carried, as fast as the libp2p pings it replaces
  (2 s + a 10 s timeout). The socket then fails, libp2p closes the connection and
  PeerDisconnected follows.
- The probes cost the node nothing (the kernel answers them, no process wakes up), unlike a
  libp2p ping, each of which woke trio several times: ~2 ms of a relay's CPU per member per
  ping, a core for 1,000 members pinging every 2 s. They also keep NAT mappings open.
  keepalive.py therefore pings direct connections only rarely (a frozen peer process, which
  the kernel still answers for) and relayed ones, whose far end the kernel cannot see, often.
- Options a platform lacks are skipped (only SO_KEEPALIVE is portable). `install()` is
  idempotent, and a no-op if libp2p's internals changed (keepalive.py still pings).
"""

from __future__ import annotations

import functools
import logging
import socket
from collections.abc import Callable
from typing import Any

from libp2p.io import trio as libp2p_trio_io

from p2psocial.net.patching import wrap_method

logger = logging.getLogger(__name__)

KEEPIDLE = 3
KEEPINTVL = 2
KEEPCNT = 3
USER_TIMEOUT_MS = 12_000


def options() -> list[tuple[int, int, int]]:
    """(level, option, value) set on each socket, those this platform has."""
    wanted = [(socket.SOL_SOCKET, "SO_KEEPALIVE", 1),
              (socket.IPPROTO_TCP, "TCP_KEEPIDLE", KEEPIDLE),
              (socket.IPPROTO_TCP, "TCP_KEEPINTVL", KEEPINTVL),
              (socket.IPPROTO_TCP, "TCP_KEEPCNT", KEEPCNT),
              (socket.IPPROTO_TCP, "TCP_USER_TIMEOUT", USER_TIMEOUT_MS)]
    return [(level, getattr(socket, name), value) for level, name, value in wanted
            if hasattr(socket, name)]


def install() -> None:
    """Patch TrioTCPStream so that each TCP connection gets kernel keepalive."""
    wrap_method(getattr(libp2p_trio_io, "TrioTCPStream", None), "__init__", _with_keepalive,
                what="no kernel keepalive on TCP connections")


def _with_keepalive(original: Callable[..., None]) -> Callable[..., None]:
    @functools.wraps(original)
    def init(self: Any, stream: Any, *args: Any, **kwargs: Any) -> None:
        original(self, stream, *args, **kwargs)
        sock = getattr(stream, "socket", None)
        if sock is None:
            return
        for level, option, value in options():
            try:
                sock.setsockopt(level, option, value)
            except OSError as exc:  # e.g. a socket already closed
                logger.debug("setting TCP keepalive option %d: %s", option, exc)

    return init
