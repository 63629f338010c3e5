"""`feed --follow` when the node stops at any point after the timeline printed: one line
saying the node stopped, a failure status, never "closed the connection" or "no node is
running" (CI caught the node stopping between the timeline and the next call).

A stand-in node on the home's control socket answers `timeline` with nothing, then goes
away at the step named: it closes the connection when that call arrives, or, for the
second connection (the one names are asked on), stops listening before it is opened."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cli.conftest import Cli

ANSWERS = {"timeline": [], "notifications": [], "following": [], "blocking": [],
           "subscribe": None, "feed": {"author": "aa" * 32, "entries": [], "name": None}}


class StandIn:
    """A control socket that answers until `cut_at`, then is gone."""

    def __init__(self, path: Path, cut_at: str) -> None:
        self.path, self.cut_at = path, cut_at
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.server: asyncio.AbstractServer | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_until_complete(self._serve())
        self.loop.run_forever()

    async def _serve(self) -> None:
        self.server = await asyncio.start_unix_server(self._client, path=str(self.path))
        self.ready.set()

    async def shut(self) -> None:
        assert self.server is not None
        self.server.close()
        await self.server.wait_closed()

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while line := await reader.readline():
            request = json.loads(line)
            method = request["method"]
            if method == self.cut_at:
                break
            if method == "blocking" and self.cut_at == "second connection":
                assert self.server is not None  # gone before the reply: the client's next
                self.server.close()             # step, a second connection, cannot race it
                self.path.unlink()
            result = ANSWERS.get(method)
            writer.write((json.dumps({"id": request["id"], "result": result}) + "\n").encode())
            await writer.drain()
        writer.close()


@pytest.fixture
def stand_in(cli: Cli, request: pytest.FixtureRequest) -> Iterator[StandIn]:
    node = StandIn(cli.home / "node.sock", request.param)
    node.thread.start()
    assert node.ready.wait(10)
    yield node
    asyncio.run_coroutine_threadsafe(node.shut(), node.loop).result(10)
    node.loop.call_soon_threadsafe(node.loop.stop)
    node.thread.join(10)
    node.loop.close()


@pytest.mark.parametrize("stand_in", ["feed", "following", "blocking", "second connection",
                                      "subscribe"], indirect=True)
def test_the_live_feed_says_the_node_stopped_wherever_it_stops(cli: Cli,
                                                               stand_in: StandIn) -> None:
    line = cli.fails("feed", "--follow", timeout=30)
    assert "the node stopped" in line, line


@pytest.mark.parametrize("stand_in", ["notifications", "subscribe"], indirect=True)
def test_live_notifications_say_the_node_stopped_wherever_it_stops(cli: Cli,
                                                                   stand_in: StandIn) -> None:
    line = cli.fails("notifications", "--follow", timeout=30)
    assert "the node stopped" in line, line
