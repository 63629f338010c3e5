"""Channel over real libp2p streams: framing throughput, bulk transfer, EOF, reset, timeouts."""

from __future__ import annotations

import hashlib
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
import trio

from p2psocial.net import Channel, Host, StreamClosed, StreamReset, Timeout, open_host
from tests.net.helpers import FrameReader, config, frame, identity, run

pytestmark = pytest.mark.timeout(60)

FRAMED = "/p2psocial-test/framed/1.0.0"
BULK = "/p2psocial-test/bulk/1.0.0"
HOLD = "/p2psocial-test/hold/1.0.0"


@asynccontextmanager
async def pair() -> AsyncIterator[tuple[Host, Host]]:
    """Server `a` and client `b`, connected."""
    async with open_host(identity("server"), config()) as a, \
            open_host(identity("client"), config()) as b:
        await b.dial(a.listen_addrs()[0])
        yield a, b


async def framed_echo(channel: Channel) -> None:
    """Echo each frame back; batch replies per read, like a real session would."""
    reader = FrameReader(channel)
    while (payload := await reader.read()) is not None:
        out = [frame(payload)]
        while len(reader.buffer) >= 4 and len(reader.buffer) >= 4 + int.from_bytes(
                reader.buffer[:4], "big"):
            more = await reader.read()
            assert more is not None
            out.append(frame(more))
        await channel.send_all(b"".join(out))
    await channel.send_eof()


def test_framed_echo_of_10k_small_messages() -> None:
    count, batch, size = 10_000, 100, 200

    async def main() -> None:
        async with pair() as (a, b):
            a.set_stream_handler(FRAMED, framed_echo)
            channel = await b.open_stream(a.handle, FRAMED)
            reader = FrameReader(channel)
            received = 0

            async def receive_all() -> None:
                nonlocal received
                while (payload := await reader.read()) is not None:
                    assert payload == received.to_bytes(4, "big") + b"e" * (size - 4)
                    received += 1

            start = time.perf_counter()
            async with trio.open_nursery() as nursery:
                nursery.start_soon(receive_all)
                for first in range(0, count, batch):
                    await channel.send_all(b"".join(
                        frame(i.to_bytes(4, "big") + b"e" * (size - 4))
                        for i in range(first, first + batch)))
                await channel.send_eof()
            took = time.perf_counter() - start
            await channel.aclose()
            assert received == count
            print(f"\n[framing] {count} x {size} B echoed in {took:.2f} s = "
                  f"{count / took:,.0f} frames/s each way, {reader.reads} reads on the client")
            assert count / took > 2_000  # 1-byte varint reads managed ~2,750/s one way

            # Round trip: one small frame at a time.
            channel = await b.open_stream(a.handle, FRAMED)
            reader = FrameReader(channel)
            rtts = []
            for i in range(200):
                t0 = time.perf_counter()
                await channel.send_all(frame(b"p%d" % i))
                assert await reader.read() == b"p%d" % i
                rtts.append(time.perf_counter() - t0)
            await channel.aclose()
            rtts.sort()
            print(f"[rtt] 200 framed round trips: median {rtts[100] * 1000:.2f} ms, "
                  f"p99 {rtts[198] * 1000:.2f} ms")
            assert rtts[100] < 0.02

    run(main)


def test_20_mb_transfer() -> None:
    total = 20 * 1024 * 1024
    chunk = bytes(range(256)) * 1024  # 256 KiB

    async def sink(channel: Channel) -> None:
        digest, count = hashlib.sha256(), 0
        while data := await channel.receive_some():
            digest.update(data)
            count += len(data)
        await channel.send_all(frame(count.to_bytes(8, "big") + digest.digest()))

    async def main() -> None:
        async with pair() as (a, b):
            a.set_stream_handler(BULK, sink)
            channel = await b.open_stream(a.handle, BULK)
            expected = hashlib.sha256()
            start = time.perf_counter()
            sent = 0
            while sent < total:
                await channel.send_all(chunk)
                expected.update(chunk)
                sent += len(chunk)
            await channel.send_eof()
            reply = await FrameReader(channel).read()
            took = time.perf_counter() - start
            await channel.aclose()
            assert reply == sent.to_bytes(8, "big") + expected.digest()
            print(f"\n[bulk] {sent / 1e6:.1f} MB in {took:.2f} s = {sent / 1e6 / took:.1f} MB/s")
            assert took < 15

    run(main)


def test_eof_reset_closed_and_timeouts() -> None:
    async def main() -> None:
        held: list[Channel] = []
        release = trio.Event()

        async def hold(channel: Channel) -> None:
            held.append(channel)
            await release.wait()

        async with pair() as (a, b):
            a.set_stream_handler(HOLD, hold)

            # A read with nothing to read times out.
            channel = await b.open_stream(a.handle, HOLD)
            channel.read_timeout = 0.2
            with pytest.raises(Timeout):
                await channel.receive_some()

            # The peer resets. py-libp2p 0.8.1 drops a reset stream's state at once, so the
            # reader sees a plain end of stream (b""); the next write fails with StreamReset.
            await channel.send_all(b"x")
            await trio.sleep(0.1)
            await held[0].reset()
            await trio.sleep(0.1)
            channel.read_timeout = 2
            assert await channel.receive_some() == b""
            with pytest.raises(StreamReset):
                await channel.send_all(b"after reset")
            await channel.reset()

            # The peer half-closes: we read b"" (and keep reading b"").
            channel = await b.open_stream(a.handle, HOLD)
            await channel.send_all(b"y")
            await trio.sleep(0.1)
            await held[1].send_eof()
            assert await channel.receive_some() == b""
            assert await channel.receive_some() == b""
            await channel.aclose()
            await channel.aclose()  # idempotent
            with pytest.raises(StreamClosed):
                await channel.receive_some()

            # The connection goes away under an open stream.
            channel = await b.open_stream(a.handle, HOLD)
            await channel.send_all(b"z")
            await b.disconnect(a.handle)
            with pytest.raises(StreamClosed):
                await channel.send_all(b"more")
                await channel.receive_some()
            await channel.aclose()
            release.set()

    run(main)
