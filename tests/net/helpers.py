"""Helpers for the net tests: real hosts on loopback, run with plain `trio.run`.

Every test body runs under a trio deadline, then the garbage collector runs while pytest still
watches: a socket libp2p forgot to close shows up as a ResourceWarning (an error here).
"""

from __future__ import annotations

import dataclasses
import gc
import hashlib
import socket
import time
from collections.abc import Awaitable, Callable
from typing import Any

import trio

from p2psocial.core.identity import Identity
from p2psocial.net import Channel, DhtMode, HostConfig

LOOPBACK = HostConfig(
    listen_addrs=("/ip4/127.0.0.1/tcp/0",),
    dht_mode=DhtMode.OFF,
    enable_gossip=False,
    dial_timeout=3.0,
    stream_open_timeout=3.0,
    read_timeout=10.0,
    write_timeout=10.0,
)


def config(**changes: Any) -> HostConfig:
    """The loopback config with `changes`."""
    return dataclasses.replace(LOOPBACK, **changes)


def identity(name: str) -> Identity:
    """A fixed identity per name (so a restarted peer keeps its handle)."""
    return Identity(hashlib.sha256(b"p2psocial-net-test:" + name.encode()).digest())


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def run(fn: Callable[..., Awaitable[object]], *args: object, timeout: float = 30.0) -> None:
    """`trio.run(fn, *args)` under a deadline, then a GC pass to surface leaked sockets."""

    async def main() -> None:
        with trio.fail_after(timeout):
            await fn(*args)

    trio.run(main)
    gc.collect()


async def wait_until(predicate: Callable[[], bool], timeout: float = 5.0,
                     interval: float = 0.02) -> float:
    """Poll `predicate` until true; return the seconds it took. Raises TooSlowError."""
    start = time.perf_counter()
    with trio.fail_after(timeout):
        while not predicate():
            await trio.sleep(interval)
    return time.perf_counter() - start


# ---- a small length-prefixed framing over Channel, buffered (as the sync driver will do) ----


def frame(payload: bytes) -> bytes:
    """A 4-byte big-endian length, then the payload."""
    return len(payload).to_bytes(4, "big") + payload


class FrameReader:
    """Reads frames through one buffer: one Channel.receive_some per many frames."""

    def __init__(self, channel: Channel) -> None:
        self.channel = channel
        self.buffer = bytearray()
        self.reads = 0

    async def read(self) -> bytes | None:
        """The next frame, or None at a clean end of stream."""
        while True:
            if len(self.buffer) >= 4:
                size = int.from_bytes(self.buffer[:4], "big")
                if len(self.buffer) >= 4 + size:
                    payload = bytes(self.buffer[4:4 + size])
                    del self.buffer[:4 + size]
                    return payload
            chunk = await self.channel.receive_some()
            self.reads += 1
            if not chunk:
                if self.buffer:
                    raise AssertionError("stream ended inside a frame")
                return None
            self.buffer += chunk
