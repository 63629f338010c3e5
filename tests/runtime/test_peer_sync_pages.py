"""A bulk transfer is read from the store and written to the stream in pages sized by bytes.

Two PeerSyncs with real stores (SQLite files) talk over a real socket pair. Every write to
the stream crosses the trio bridge and every page read is a database round trip: their cost
is per call, not per byte, so short entries must go out in large pages. Before, a page was a
fixed 256 entries (~100 KiB of 200-character posts), whatever their size.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Mapping, Sequence
from pathlib import Path

import pytest

from p2psocial.core.feed import FeedState
from p2psocial.core.replication import WantNote
from p2psocial.runtime import peer_sync
from p2psocial.runtime.peer_sync import PeerSync
from p2psocial.store.sqlite import IngestReport, Store
from p2psocial.testing import identity_for, make_feed, raw_entries


class CountingPipe:
    """One end of a real socket pair as a sync Pipe; counts the writes."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader = reader
        self._writer = writer
        self.sizes: list[int] = []

    async def receive(self) -> bytes:
        return await self._reader.read(1 << 18)

    async def send(self, data: bytes) -> None:
        self.sizes.append(len(data))
        self._writer.write(data)
        await self._writer.drain()

    async def close(self) -> None:
        self._writer.close()


class StoreLink:
    """A replicator reduced to a store: serves what it holds, wants `wants` from scratch."""

    def __init__(self, store: Store, wants: list[bytes]) -> None:
        self.store = store
        self._wants = wants
        self.stored_count = 0
        self.synced = asyncio.Event()

    def want_notes(self) -> list[WantNote]:
        return [WantNote(feed, 0, 0, 0) for feed in self._wants]

    async def states_to_serve(self, feeds: Sequence[bytes]) -> Mapping[bytes, FeedState]:
        return await self.store.feed_states(feeds)

    async def states_of(self, feeds: Sequence[bytes]) -> Mapping[bytes, FeedState]:
        return await self.store.feed_states(feeds)

    async def stored(self, sync: PeerSync, report: IngestReport) -> None:
        self.stored_count += len(report.accepted)

    def peer_has(self, sync: PeerSync, feed: bytes, lo: int, hi: int) -> None:
        return None

    def caught_up(self, sync: PeerSync) -> None:
        self.synced.set()

    def misbehaved(self, sync: PeerSync, reason: str) -> None:
        raise AssertionError(f"an honest peer cannot misbehave: {reason}")

    def refused_by(self, sync: PeerSync, seconds: float) -> None:
        raise AssertionError("an honest peer does not refuse")


async def replicate(tmp_path: Path, entries: int, size: int | None
                    ) -> tuple[list[int], int, int]:
    """Replicate one feed of `entries` posts A -> B; (A's write sizes, B's stored count,
    bytes of the entries)."""
    author = identity_for("pages")
    raw = raw_entries(make_feed(author, entries, size=size))
    a_store = await Store.open(tmp_path / "a.db")
    b_store = await Store.open(tmp_path / "b.db")
    try:
        report = await a_store.ingest(raw)
        assert len(report.accepted) == entries
        ours, theirs = socket.socketpair()
        a_pipe = CountingPipe(*await asyncio.open_connection(sock=ours))
        b_pipe = CountingPipe(*await asyncio.open_connection(sock=theirs))
        a_link, b_link = StoreLink(a_store, []), StoreLink(b_store, [author.public_key])
        a = PeerSync(a_link, a_pipe, "b", outbound=False)  # type: ignore[arg-type]
        b = PeerSync(b_link, b_pipe, "a", outbound=True)  # type: ignore[arg-type]
        runs = [asyncio.create_task(a.run()), asyncio.create_task(b.run())]
        for _ in range(600):  # up to 30 s on a loaded machine
            if await b_store.count_entries(author.public_key) == entries:
                break
            await asyncio.sleep(0.05)
        a.close()
        b.close()
        await asyncio.wait_for(asyncio.gather(*runs), 10)
        return (a_pipe.sizes, await b_store.count_entries(author.public_key),
                sum(len(h) + len(p or b"") for h, p in raw))
    finally:
        await a_store.close()
        await b_store.close()


@pytest.mark.asyncio
async def test_short_entries_go_out_in_pages_of_many_entries(tmp_path: Path) -> None:
    sizes, held, total = await replicate(tmp_path, 3000, 200)
    assert held == 3000
    big = [s for s in sizes if s > 10_000]  # the pages of entries (not HELLO, WANT, SYNCED)
    assert sum(big) >= total
    # 3000 entries of ~410 bytes: ~1.2 MB in pages of PAGE_BYTES; before, 12 pages of 256
    assert len(big) <= -(-total // peer_sync.PAGE_BYTES) + 1, big


@pytest.mark.asyncio
async def test_large_entries_go_out_in_pages_of_bounded_bytes(tmp_path: Path) -> None:
    sizes, held, _ = await replicate(tmp_path, 600, 3000)
    assert held == 600
    # the first page holds at most PAGE entries; once their size is known, a page holds
    # about PAGE_BYTES (never more than one entry beyond it)
    assert max(sizes) <= peer_sync.PAGE * 3300
    assert len([s for s in sizes if s > peer_sync.PAGE_BYTES + 3300]) <= 1, sizes
