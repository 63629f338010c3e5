"""Yamux credit: a reader of many small messages sends few WINDOW_UPDATEs, and bulk still flows."""

from __future__ import annotations

from typing import Any

import pytest
import trio
from libp2p.stream_muxer.yamux.yamux import YamuxStream

from p2psocial.net import Channel, open_host
from tests.net.helpers import config, identity, run

pytestmark = pytest.mark.timeout(60)

SINK = "/p2psocial-test/sink/1.0.0"


def _count_updates(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Record every WINDOW_UPDATE increment that any stream sends (the real send runs)."""
    sent: list[int] = []
    real = YamuxStream.send_window_update

    async def counting(self: Any, increment: int, skip_lock: bool = False) -> None:
        if increment > 0:
            sent.append(increment)
        await real(self, increment, skip_lock)

    monkeypatch.setattr(YamuxStream, "send_window_update", counting)
    return sent


def _sink_test(messages: int, size: int, most_updates: int,
               monkeypatch: pytest.MonkeyPatch) -> None:
    updates = _count_updates(monkeypatch)
    total = messages * size

    async def main() -> None:
        got = 0
        done = trio.Event()

        async def sink(channel: Channel) -> None:
            nonlocal got
            while chunk := await channel.receive_some():
                got += len(chunk)
            done.set()

        async with open_host(identity("server"), config()) as a, \
                open_host(identity("client"), config()) as b:
            a.set_stream_handler(SINK, sink)
            await b.dial(a.listen_addrs()[0])
            channel = await b.open_stream(a.handle, SINK)
            updates.clear()
            for i in range(messages):
                await channel.send_all(bytes([i % 256]) * size)
                if size < 1024:
                    await trio.sleep(0)  # let each small message be read on its own
            await channel.send_eof()
            with trio.fail_after(20):
                await done.wait()
            await channel.aclose()
        assert got == total
        assert len(updates) <= most_updates, f"{len(updates)} window updates for {messages} reads"

    run(main)


def test_small_messages_are_credited_once_per_half_window(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # 300 messages of 100 B: 30 KB, well under half of the 256 KiB window: per-read credit
    # sent an update per read (~300); half-window credit sends none
    _sink_test(300, 100, 5, monkeypatch)


def test_bulk_transfer_still_flows(monkeypatch: pytest.MonkeyPatch) -> None:
    # 8 MB: the sender needs credit back many times over; half-window credit gives it in a few
    # dozen large updates instead of one or two per read (259 before)
    _sink_test(128, 64 * 1024, 100, monkeypatch)
