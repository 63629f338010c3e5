"""Blobs over the network: `/p2psocial/blob/1.0.0` served and fetched (docs/protocol.md
§Blobs, B3-B8).

Rules:
- Serving (trio): any whole blob held, to any peer (B7); at most MAX_BLOB_UPLOADS streams
  served at once and MAX_BLOB_UPLOADS_PER_PEER per peer, counted from the moment a request
  has come; others get busy. Streams still waiting for their request are counted apart
  (MAX_WAITING, MAX_WAITING_PER_PEER; more get busy at once, unread): a peer holding silent
  streams uses up only its own share of those, for at most REQUEST_SECONDS, and many peers
  doing so never take a serving slot from a peer that asks. A request must come whole
  (with the client's half-close) within REQUEST_SECONDS.
  Over a relayed connection a stream carries at most the circuit's budget of chunks, and
  always one (B6). A bad request gets one log line and a reset stream; nothing else
  happens.
- Fetching: one fetch per blob at a time (callers asking for a blob already coming wait for
  that fetch). Sources in order: the peers named by the caller, then every connected peer
  (B8). A source that answered not-here is skipped for NOT_HERE_SECONDS; one that broke
  B4/B5 for the rest of this fetch. A stream that ends early after verified chunks is
  resumed at once from the next chunk, on the same source (a relay's limit ends streams by
  design), for as long as each stream brings a chunk.
- Every byte kept was checked (core.blobs.ChunkReceiver) and written by store.blobs, which
  keeps nothing half-written on a full disk. The chunks verified before a cut stay in the
  part file, so the next fetch, from any source, resumes after them.
- Eager fetching (B8) is `want`: a bounded queue worked by FETCH_WORKERS tasks; a blob that
  no source had is tried again after RETRY_SECONDS, at most RETRIES times, then forgotten
  until someone asks for it (MAX_WANTED blobs wanted at once; more are dropped, oldest
  first).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import trio

from p2psocial.core.blobs import (
    BLOB_PROTOCOL,
    BlobRequest,
    Busy,
    ChunkReceiver,
    HeadReader,
    NotHere,
    Ok,
    check_manifest,
    encode_head,
    encode_request,
    parse_request,
)
from p2psocial.core.errors import BlobError, NetError, StoreError
from p2psocial.core.limits import (
    BLOB_CHUNK_BYTES,
    MAX_BLOB_REQUEST_BYTES,
    MAX_BLOB_UPLOADS,
    MAX_BLOB_UPLOADS_PER_PEER,
)
from p2psocial.net import Channel, Host
from p2psocial.runtime.mail_holder import read_all
from p2psocial.runtime.peer_sync import circuit_budget
from p2psocial.store.blobs import BlobStore

log = logging.getLogger(__name__)
BUSY_RETRY_SECONDS = 5
REQUEST_SECONDS = 10.0  # a client's whole request (and its half-close) must come within this
MAX_WAITING = 64  # streams open and waiting for their request, from all peers
MAX_WAITING_PER_PEER = MAX_BLOB_UPLOADS_PER_PEER
NOT_HERE_SECONDS = 600.0
MAX_NOT_HERE = 4096  # (source, blob) pairs remembered as not-here
FETCH_WORKERS = 2
MAX_WANTED = 10_000
RETRY_SECONDS = 60.0
RETRIES = 5
MAX_ROUNDS = 400  # streams to one source in one fetch (80 chunks over 1-chunk circuits, x5)


def _take(counts: dict[str, int], peer: str, most: int, most_per_peer: int) -> bool:
    """Count one more stream of `peer` in `counts` if both limits allow it."""
    mine = counts.get(peer, 0)
    if mine >= most_per_peer or sum(counts.values()) >= most:
        return False
    counts[peer] = mine + 1
    return True


def _give_back(counts: dict[str, int], peer: str) -> None:
    left = counts[peer] - 1
    if left:
        counts[peer] = left
    else:
        del counts[peer]


async def _busy(channel: Channel) -> None:
    with contextlib.suppress(NetError):
        await channel.send_all(encode_head(Busy(BUSY_RETRY_SECONDS)))
    await channel.aclose()


@dataclass(frozen=True, slots=True)
class Outcome:
    """How one stream to one source ended."""

    status: str  # done | partial | not-here | busy | bad | unreachable
    got: int = 0  # chunks verified on this stream
    detail: str = ""


class BlobExchange:
    """Serves the blobs held here and fetches the ones wanted."""

    def __init__(self, bridge: Any, host: Host, store: BlobStore) -> None:
        self._bridge = bridge
        self._host = host
        self.store = store
        self._uploads: dict[str, int] = {}  # streams being served, by peer
        self._waiting: dict[str, int] = {}  # streams waiting for their request, by peer
        self._fetching: dict[bytes, asyncio.Future[bool]] = {}
        self._not_here: OrderedDict[tuple[str, bytes], float] = OrderedDict()
        self._wanted: OrderedDict[bytes, tuple[int, tuple[str, ...]]] = OrderedDict()
        self._retry: dict[bytes, tuple[float, int]] = {}
        self._wake = asyncio.Event()
        self._tasks: set[asyncio.Task[Any]] = set()
        self.fetched = 0  # blobs fetched whole since start (for status and tests)
        self.served_chunks = 0
        self.on_fetched: Callable[[bytes, int], None] | None = None  # a blob and its size

    def start(self) -> None:
        self._host.set_stream_handler(BLOB_PROTOCOL, self._serve)
        for i in range(FETCH_WORKERS):
            task = asyncio.ensure_future(self._worker())
            task.set_name(f"blob fetch {i}")
            self._tasks.add(task)
        self.store.sweep_parts()

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()

    # --- serving (trio) -------------------------------------------------------------------

    async def _serve(self, channel: Channel) -> None:
        peer = channel.peer
        if not _take(self._waiting, peer, MAX_WAITING, MAX_WAITING_PER_PEER):
            await _busy(channel)  # at once: not even a request is read
            return
        try:
            channel.read_timeout = REQUEST_SECONDS  # a request is 64 bytes: no slow ones
            try:
                request = parse_request(await read_all(channel, MAX_BLOB_REQUEST_BYTES))
            except (BlobError, NetError) as exc:
                log.info("blobs: bad request from %s: %s", peer, exc)
                await channel.reset()
                return
        finally:
            _give_back(self._waiting, peer)
        if not _take(self._uploads, peer, MAX_BLOB_UPLOADS, MAX_BLOB_UPLOADS_PER_PEER):
            await _busy(channel)
            return
        try:
            await self._send(channel, request)
        finally:
            _give_back(self._uploads, peer)

    async def _send(self, channel: Channel, request: BlobRequest) -> None:
        manifest = await trio.to_thread.run_sync(self.store.manifest, request.id)
        if manifest is None or request.first >= manifest.chunks or \
                (request.size and request.size != manifest.size):
            await channel.send_all(encode_head(NotHere()))
            await channel.aclose()
            return
        relay = channel.via_relay
        budget = None if relay is None else circuit_budget(self._host.circuit_data_limit(relay))
        await channel.send_all(encode_head(Ok(manifest.size, manifest.hashes)))
        sent = 0
        for index in range(request.first, manifest.chunks):
            length = manifest.chunk_length(index)
            if budget is not None and sent and sent + length > budget:
                break  # B6: the client resumes on a new stream
            try:
                chunk = self.store.read_chunk(manifest, index)
            except StoreError as exc:
                log.warning("blobs: %s", exc)
                await channel.reset()
                return
            await channel.send_all(chunk)
            sent += length
            self.served_chunks += 1
        await channel.aclose()

    # --- fetching -------------------------------------------------------------------------

    def want(self, blob: bytes, size: int = 0, sources: Iterable[str] = ()) -> None:
        """Fetch `blob` in the background (B8); its first sources to ask."""
        if self.store.has(blob) or blob in self._fetching:
            return
        self._wanted[blob] = (size, tuple(sources))
        self._wanted.move_to_end(blob)
        while len(self._wanted) > MAX_WANTED:
            self._wanted.popitem(last=False)
        self._wake.set()

    @property
    def wanted(self) -> int:
        return len(self._wanted) + len(self._retry)

    async def _worker(self) -> None:
        while True:
            if not self._wanted:
                self._requeue_due()
            if not self._wanted:
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout=RETRY_SECONDS / 4)
                continue
            blob, (size, sources) = self._wanted.popitem(last=False)
            try:
                ok = await self.fetch(blob, size=size, sources=sources)
            except StoreError as exc:
                log.warning("blobs: %s", exc)
                ok = False
            if ok:
                self._retry.pop(blob, None)
            else:
                _, tries = self._retry.get(blob, (0.0, 0))
                if tries + 1 < RETRIES and len(self._retry) < MAX_WANTED:
                    self._retry[blob] = (time.monotonic() + RETRY_SECONDS * 2 ** tries,
                                         tries + 1)
                else:
                    self._retry.pop(blob, None)

    def _requeue_due(self) -> None:
        now = time.monotonic()
        for blob, (due, _tries) in list(self._retry.items()):
            if due <= now and blob not in self._wanted:
                self._wanted[blob] = (0, ())

    async def fetch(self, blob: bytes, *, size: int = 0, sources: Sequence[str] = ()) -> bool:
        """Fetch `blob` whole (True), or say no source had it (False). A fetch of the same
        blob already running is waited for, not repeated.

        Raises:
            StoreError: it cannot be stored here (StorageFull: the disk is full).
        """
        if self.store.has(blob):
            return True
        running = self._fetching.get(blob)
        if running is not None:
            return await asyncio.shield(running)
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._fetching[blob] = future
        try:
            ok = await self._fetch(blob, size, sources)
        except asyncio.CancelledError:
            future.cancel()
            raise
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # those waiting get it; nobody else must
            raise
        else:
            future.set_result(ok)
        finally:
            del self._fetching[blob]
        if ok:
            self.fetched += 1
            if self.on_fetched is not None:
                self.on_fetched(blob, self.store.size_of(blob) or 0)
        return ok

    async def _fetch(self, blob: bytes, size: int, sources: Sequence[str]) -> bool:
        bad: set[str] = set()
        for peer in await self._sources(sources):
            if peer in bad or self._said_not_here(peer, blob):
                continue
            for _round in range(MAX_ROUNDS):
                outcome = await self._bridge.run(self._fetch_from, peer, blob, size)
                if outcome.status == "done":
                    return True
                if outcome.status == "partial" and outcome.got:
                    continue
                if outcome.status == "not-here":
                    self._not_here[(peer, blob)] = time.monotonic() + NOT_HERE_SECONDS
                    while len(self._not_here) > MAX_NOT_HERE:
                        self._not_here.popitem(last=False)
                elif outcome.status == "bad":
                    bad.add(peer)
                    log.info("blobs: %s sent a bad answer for %s: %s", peer,
                             blob.hex()[:16], outcome.detail)
                break
        return self.store.has(blob)

    async def _sources(self, first: Sequence[str]) -> list[str]:
        """`first` (handles or full addresses), then every connected peer; each peer once (by
        its address if one was given), and never myself."""
        connected: list[str] = []
        with contextlib.suppress(NetError):
            peers = await self._bridge.run_sync(self._host.connected_peers)
            connected = [p.peer for p in peers]
        out: dict[str, str] = {}
        for source in [*first, *connected]:
            handle = source.rsplit("/p2p/", 1)[-1]
            if handle == self._host.handle:
                continue
            if handle not in out or ("/p2p/" in source and "/p2p/" not in out[handle]):
                out[handle] = source
        return list(out.values())

    def _said_not_here(self, peer: str, blob: bytes) -> bool:
        until = self._not_here.get((peer, blob))
        if until is None:
            return False
        if until > time.monotonic():
            return True
        del self._not_here[(peer, blob)]
        return False

    async def _fetch_from(self, peer: str, blob: bytes, size: int) -> Outcome:
        """(trio) One stream to `peer` (a handle, or a full address to dial) for `blob`,
        from the first chunk not held."""
        part = self.store.partial / f"{blob.hex()}.part"
        try:
            first = part.stat().st_size // BLOB_CHUNK_BYTES
        except OSError:
            first = 0
        handle = peer.rsplit("/p2p/", 1)[-1]
        try:
            if not self._host.is_connected(handle):
                await self._host.dial(peer)
            async with await self._host.open_stream(handle, BLOB_PROTOCOL) as channel:
                await channel.send_all(encode_request(BlobRequest(blob, first, size)))
                await channel.send_eof()
                return await self._receive(channel, blob, size, first)
        except NetError as exc:
            return Outcome("unreachable", detail=str(exc))

    async def _receive(self, channel: Channel, blob: bytes, size: int, first: int) -> Outcome:
        reader = HeadReader()
        parsed = None
        try:
            while parsed is None:
                data = await channel.receive_some()
                if not data:
                    reader.at_end()
                parsed = reader.feed(data)
            head, rest = parsed
            if isinstance(head, NotHere):
                return Outcome("not-here")
            if isinstance(head, Busy):
                return Outcome("busy")
            assert isinstance(head, Ok)
            manifest = check_manifest(blob, head.size, head.manifest, expected_size=size)
            download = await trio.to_thread.run_sync(self.store.download, manifest)
            if download.done:
                await trio.to_thread.run_sync(download.finish)
                return Outcome("done")
            if download.next != first:  # the part file was not what its size said
                return Outcome("partial", got=1)
            receiver, got = ChunkReceiver(manifest, first), 0
            while True:
                for index, chunk in receiver.feed(rest):
                    download.write(index, chunk)
                    got += 1
                if receiver.done:
                    break
                rest = await channel.receive_some()
                if not rest:
                    return Outcome("partial", got=got)
            await trio.to_thread.run_sync(download.finish)
            return Outcome("done", got=got)
        except BlobError as exc:
            await channel.reset()
            return Outcome("bad", detail=str(exc))
