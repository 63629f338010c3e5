"""Blobs between real libp2p hosts on loopback (docs/protocol.md §Blobs): a whole fetch,
resuming after a cut from the verified chunks, a lying source skipped for an honest one,
not-here and busy, and bad requests answered with a reset while the server keeps serving."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
import trio

from p2psocial.core import limits
from p2psocial.core.blobs import BLOB_PROTOCOL, HeadReader, Ok, encode_head, manifest_of
from p2psocial.net import Channel, Host
from p2psocial.runtime import blobs as blobs_module
from p2psocial.runtime.blobs import BlobExchange
from p2psocial.runtime.bridge import TrioBridge
from p2psocial.store.blobs import BlobStore
from tests.net.helpers import config, identity

pytestmark = [pytest.mark.timeout(60), pytest.mark.asyncio]
CHUNK = limits.BLOB_CHUNK_BYTES
DATA = os.urandom(5 * CHUNK + 77)
M = manifest_of(DATA)


@asynccontextmanager
async def hosts(tmp_path: Path, *names: str) -> AsyncIterator[tuple[TrioBridge,
                                                                    list[BlobExchange]]]:
    async with TrioBridge() as bridge:
        started: list[Host] = []
        exchanges = []
        try:
            for name in names:
                host = Host(identity(f"blob-{name}"), config())
                exchange = BlobExchange(bridge, host, BlobStore(tmp_path / name / "blobs"))
                exchange.start()
                await bridge.start_service(host.serve)
                started.append(host)
                exchanges.append(exchange)
            for host in started[1:]:
                await bridge.run(host.dial, started[0].listen_addrs()[0])
            yield bridge, exchanges
        finally:
            for exchange in exchanges:
                await exchange.stop()
            for host in started:
                await bridge.run(host.aclose)


def handle(exchange: BlobExchange) -> str:
    return exchange._host.handle


async def test_a_blob_is_fetched_whole_and_checked(tmp_path: Path) -> None:
    async with hosts(tmp_path, "server", "client") as (_bridge, (server, client)):
        server.store.add_bytes(DATA)
        assert await client.fetch(M.id, size=M.size, sources=[handle(server)])
        assert client.store.read(M.id) == DATA
        assert server.served_chunks == M.chunks
        assert not any(client.store.partial.iterdir())
        # not-here from everyone: False, and the source is not asked again for a while
        other = manifest_of(b"nobody has this")
        assert not await client.fetch(other.id, sources=[handle(server)])
        served = server.served_chunks
        assert not await client.fetch(other.id, sources=[handle(server)])
        assert server.served_chunks == served


async def test_a_cut_fetch_resumes_from_the_verified_chunks(tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch
                                                          ) -> None:
    async with hosts(tmp_path, "server", "client") as (_bridge, (server, client)):
        server.store.add_bytes(DATA)
        # the server sends two chunks per stream, as over a limited relay circuit (B6)
        monkeypatch.setattr(blobs_module, "circuit_budget", lambda _limit: 2 * CHUNK)
        monkeypatch.setattr(Channel, "via_relay", property(lambda _self: "relay"))
        streams = []
        real = client._fetch_from

        async def counted(peer: str, blob: bytes, size: int) -> blobs_module.Outcome:
            outcome = await real(peer, blob, size)
            streams.append(outcome)
            return outcome
        monkeypatch.setattr(client, "_fetch_from", counted)
        assert await client.fetch(M.id, sources=[handle(server)])
        assert client.store.read(M.id) == DATA
        assert [o.got for o in streams] == [2, 2, 2]
        assert [o.status for o in streams] == ["partial", "partial", "done"]


async def test_a_lying_source_is_dropped_and_its_good_chunks_kept(tmp_path: Path) -> None:
    async with hosts(tmp_path, "honest", "client", "liar") as (bridge, (honest, client,
                                                                      liar)):
        honest.store.add_bytes(DATA)
        bad = bytearray(DATA)
        bad[3 * CHUNK + 10] ^= 1  # chunk 3 is wrong; the manifest is the true one

        async def lie(channel: Channel) -> None:
            await channel.receive_some()
            await channel.send_all(encode_head(Ok(M.size, M.hashes)) + bytes(bad))
            await channel.aclose()
        liar._host.set_stream_handler(BLOB_PROTOCOL, lie)
        await bridge.run(liar._host.dial, client._host.listen_addrs()[0])
        assert await client.fetch(M.id, sources=[handle(liar), handle(honest)])
        assert client.store.read(M.id) == DATA
        assert honest.served_chunks == M.chunks - 3  # chunks 0-2 came from the liar, checked


async def test_bad_requests_get_a_reset_and_the_server_serves_on(tmp_path: Path) -> None:
    async with hosts(tmp_path, "server", "client") as (bridge, (server, client)):
        server.store.add_bytes(DATA)
        host = client._host

        async def ask(raw: bytes) -> bytes:
            async with await host.open_stream(handle(server), BLOB_PROTOCOL) as channel:
                await channel.send_all(raw)
                await channel.send_eof()
                out = b""
                while data := await channel.receive_some():
                    out += data
                return out
        for raw in (b"\xff" * 10, b"garbage that is not a request at all, and too long" * 2):
            assert await bridge.run(ask, raw) == b""
        assert await client.fetch(M.id, sources=[handle(server)])


async def test_busy_when_a_peer_asks_for_too_much_at_once(tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch
                                                         ) -> None:
    monkeypatch.setattr(blobs_module, "MAX_BLOB_UPLOADS_PER_PEER", 0)
    async with hosts(tmp_path, "server", "client") as (bridge, (server, client)):
        server.store.add_bytes(DATA)
        outcome = await bridge.run(client._fetch_from, handle(server), M.id, 0)
        assert outcome.status == "busy"
        assert not client.store.has(M.id)
        reader = HeadReader()
        assert reader.feed(encode_head(blobs_module.Busy(5))) is not None


async def test_a_source_not_connected_is_dialled_by_its_address(tmp_path: Path) -> None:
    async with hosts(tmp_path, "hub", "client", "holder") as (bridge, (_hub, client, holder)):
        holder.store.add_bytes(DATA)
        assert not await bridge.run_sync(client._host.is_connected, handle(holder))
        address = f"{holder._host.listen_addrs()[0]}/p2p/{handle(holder)}"
        # by handle alone it cannot be reached (no address known): then by its address
        assert await client.fetch(M.id, sources=[handle(holder), address])
        assert client.store.read(M.id) == DATA


async def test_silent_streams_use_up_only_their_peers_share(tmp_path: Path) -> None:
    async with hosts(tmp_path, "server", "client", "other") as (bridge, (server, client,
                                                                         other)):
        server.store.add_bytes(DATA)

        async def hold_two_then_ask() -> bytes:
            held = [await client._host.open_stream(handle(server), BLOB_PROTOCOL)
                    for _ in range(2)]
            for channel in held:  # the streams open on the server once something is sent
                await channel.send_all(b"\x84")
            await trio.sleep(0.5)
            try:
                async with await client._host.open_stream(handle(server),
                                                          BLOB_PROTOCOL) as third:
                    await third.send_all(b"\x84")
                    return await third.receive_some()
            finally:
                for channel in held:
                    await channel.reset()
        assert await bridge.run(hold_two_then_ask) == encode_head(blobs_module.Busy(5))
        # another peer is served meanwhile, and the client again once its streams went
        assert await other.fetch(M.id, sources=[handle(server)])
        assert await client.fetch(M.id, sources=[handle(server)])


async def test_silent_streams_of_many_peers_do_not_take_the_serving_slots(tmp_path: Path
                                                                          ) -> None:
    """Four peers each holding their share of silent streams (a request never sent) fill as
    many streams as the server serves at once; a fifth peer is still served: a serving slot
    is taken when a request has come, not when a stream opens."""
    names = ("server", "a", "b", "c", "d", "other")
    async with hosts(tmp_path, *names) as (bridge, (server, *silent, other)):
        server.store.add_bytes(DATA)
        assert 4 * limits.MAX_BLOB_UPLOADS_PER_PEER >= limits.MAX_BLOB_UPLOADS
        held = []
        for peer in silent:
            for _ in range(limits.MAX_BLOB_UPLOADS_PER_PEER):
                channel = await bridge.run(peer._host.open_stream, handle(server),
                                           BLOB_PROTOCOL)
                await bridge.run(channel.send_all, b"\x84")  # opens it on the server
                held.append(channel)
        try:
            await bridge.run(trio.sleep, 0.5)
            outcome = await bridge.run(other._fetch_from, handle(server), M.id, 0)
            assert outcome.status == "done", outcome
            assert other.store.read(M.id) == DATA
        finally:
            for channel in held:
                await bridge.run(channel.reset)
