"""A sync session whose peer stops reading ends, instead of living on with a dead writer.

The stream is a real socket pair whose far end never reads nor closes (a peer that hung, or a
connection that died while its keepalive has not noticed yet): writes fill the socket buffer
and then wait. Before, the writer died of its send timeout while the session kept reading the
silent stream forever, "open", its send queue growing without bound, so the peer was never
redialled.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Mapping, Sequence

import pytest
import pytest_asyncio

from p2psocial.core.feed import FeedState
from p2psocial.core.replication import WantNote
from p2psocial.net.errors import Timeout
from p2psocial.runtime import peer_sync
from p2psocial.runtime.peer_sync import PeerSync


class SocketPipe:
    """One end of a real socket pair as a sync Pipe, with a send timeout like Channel's."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                 write_timeout: float | None) -> None:
        self._reader = reader
        self._writer = writer
        self._write_timeout = write_timeout

    async def receive(self) -> bytes:
        return await self._reader.read(65536)

    async def send(self, data: bytes) -> None:
        self._writer.write(data)
        try:
            await asyncio.wait_for(self._writer.drain(), self._write_timeout)
        except TimeoutError as exc:
            raise Timeout(f"send took over {self._write_timeout} s") from exc

    async def close(self) -> None:
        self._writer.close()


class QuietLink:
    """A replicator that wants nothing and is never asked anything (the peer never speaks)."""

    store = None

    def want_notes(self) -> list[WantNote]:
        return []

    async def states_to_serve(self, feeds: Sequence[bytes]) -> Mapping[bytes, FeedState]:
        return {}

    async def states_of(self, feeds: Sequence[bytes]) -> Mapping[bytes, FeedState]:
        return {}

    async def stored(self, sync: PeerSync, report: object) -> None:
        return None

    def peer_has(self, sync: PeerSync, feed: bytes, lo: int, hi: int) -> None:
        return None

    def caught_up(self, sync: PeerSync) -> None:
        return None

    def misbehaved(self, sync: PeerSync, reason: str) -> None:
        raise AssertionError(f"a quiet peer cannot misbehave: {reason}")


@pytest_asyncio.fixture
async def silent_peer() -> AsyncIterator[tuple[asyncio.StreamReader, asyncio.StreamWriter]]:
    """Our end of a socket pair whose other end never reads (small buffers: fills quickly)."""
    ours, theirs = socket.socketpair()
    for sock in (ours, theirs):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    reader, writer = await asyncio.open_connection(sock=ours)
    yield reader, writer
    writer.close()
    theirs.close()


def start(pipe: SocketPipe) -> tuple[PeerSync, asyncio.Task[None]]:
    sync = PeerSync(QuietLink(), pipe, "silent peer", outbound=True)  # type: ignore[arg-type]
    return sync, asyncio.create_task(sync.run())


@pytest.mark.asyncio
async def test_a_send_that_times_out_ends_the_session(silent_peer: tuple[
        asyncio.StreamReader, asyncio.StreamWriter]) -> None:
    sync, running = start(SocketPipe(*silent_peer, write_timeout=0.3))
    sync.send([b"\0" * 1_000_000])  # more than the socket buffers hold
    await asyncio.wait_for(running, 5)  # before: read the silent stream forever
    assert not sync.open


@pytest.mark.asyncio
async def test_a_peer_that_falls_too_far_behind_is_dropped(
        silent_peer: tuple[asyncio.StreamReader, asyncio.StreamWriter],
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(peer_sync, "MAX_QUEUED", 100)
    sync, running = start(SocketPipe(*silent_peer, write_timeout=None))  # waits forever
    sync.send([b"\0" * 1_000_000])
    await asyncio.sleep(0.1)  # the writer is now stuck in that send
    for _ in range(100 - len(sync._pending)):  # fill the queue to its bound
        sync.send([b"\1" * 100])
    assert sync.open
    sync.send([b"\2" * 100])  # one more than the queue holds
    await asyncio.wait_for(running, 5)
    assert not sync.open
    assert len(sync._pending) <= 1
