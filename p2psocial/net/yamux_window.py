"""Yamux receive windows: credit the sender once per half window, not once per read.

Rules:
- py-libp2p 0.8.1's YamuxStream sends a WINDOW_UPDATE frame after every read that leaves any
  credit unreturned, however small ("release on read"): every small message on any stream
  (a sync frame, a gossip message, a ping) costs the reader one more encrypted frame and one
  more send() back. On a relay with many members that was a fifth of its CPU.
- `install()` makes the stream return credit as go-yamux does: only once the bytes read and
  not yet credited reach half the stream's target window; then all of it is returned in one
  update (libp2p's own grow path, which also auto-tunes the window). A reader that keeps
  reading always frees the sender (the sender can be ahead by at most a window, and half of
  it read triggers the update), so this cannot stall a transfer.
- Installing is idempotent, and a no-op if the internal is missing (a libp2p upgrade then
  falls back to its own behaviour; the pin and tests/net/test_yamux_window.py catch it).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from libp2p.stream_muxer.yamux import yamux

from p2psocial.net.patching import wrap_method

logger = logging.getLogger(__name__)


def install() -> None:
    """Patch YamuxStream so that reads return window credit once per half window."""
    wrap_method(getattr(yamux, "YamuxStream", None), "_auto_tune_and_send_window_update",
                _lazy, what="per-read yamux window updates left as they are")


def _lazy(original: Callable[..., Awaitable[None]]) -> Callable[..., Awaitable[None]]:
    async def credit_when_half_read(self: Any, *, bytes_read: int = 0) -> None:
        if bytes_read > 0:
            async with self.window_lock:
                buffered = len(self.conn.stream_buffers.get(self.stream_id, b""))
                unreturned = self.target_recv_window - (self.recv_window + buffered)
                if unreturned < max(1, self.target_recv_window // 2):
                    return  # the sender still has at least half a window to send into
        await original(self, bytes_read=0)  # returns all unreturned credit in one update

    return credit_when_half_read
