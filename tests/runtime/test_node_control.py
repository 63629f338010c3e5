"""A node in this process, reached through its control socket like the CLI and UI reach it."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import stat
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from p2psocial.core.errors import HandleError, HomeLocked, UsageError
from p2psocial.runtime.config import NodeConfig
from p2psocial.runtime.control import ControlClient, NodeNotRunning
from p2psocial.runtime.node import Node
from p2psocial.runtime.views import EntryView, FeedLog
from p2psocial.store import keyfile
from p2psocial.store.home import Home
from p2psocial.testing import identity_for

ME = identity_for("node-owner")


def make_home(root: Path) -> Home:
    home = Home(root)
    home.create()
    keyfile.write_doc(home.key_file, keyfile.seal(ME, ""))
    return home


@pytest_asyncio.fixture
async def node(tmp_path: Path) -> AsyncIterator[Node]:
    n = Node(make_home(tmp_path / "home"), ME, NodeConfig(), offline=True)
    await n.start()
    yield n
    await n.stop()


@pytest_asyncio.fixture
async def client(node: Node) -> AsyncIterator[ControlClient]:
    c = await ControlClient.open(node.home.control_socket)
    yield c
    await c.close()


@pytest.mark.asyncio
async def test_socket_is_private(node: Node) -> None:
    mode = stat.S_IMODE(node.home.control_socket.stat().st_mode)
    assert mode == 0o600


@pytest.mark.asyncio
async def test_remote_calls_return_what_local_calls_return(node: Node,
                                                           client: ControlClient) -> None:
    posted = await client.post("over the socket #remote")
    assert isinstance(posted, EntryView) and posted.content is not None
    assert posted.content["tags"] == ["remote"]
    remote_log = await client.log()
    local_log = await node.service.log()
    assert isinstance(remote_log, FeedLog)
    assert remote_log == local_log


@pytest.mark.asyncio
async def test_errors_cross_the_socket_with_their_type(client: ControlClient) -> None:
    with pytest.raises(HandleError, match="handle"):
        await client.follow("nonsense")
    with pytest.raises(UsageError, match="empty"):
        await client.post("   ")
    assert (await client.log()).entries == []


@pytest.mark.asyncio
async def test_garbage_and_unknown_methods_get_errors_and_the_node_keeps_serving(
        node: Node, client: ControlClient) -> None:
    reader, writer = await asyncio.open_unix_connection(node.home.control_socket)
    for line in (b"not json\n", b'{"id": 1}\n', b'{"id": 2, "method": "drop_tables"}\n',
                 b'{"id": 3, "method": "post", "args": [1, 2, 3, 4]}\n'):
        writer.write(line)
        await writer.drain()
        reply = json.loads(await reader.readline())
        assert "error" in reply
    writer.write(b"\xff\xfe garbage without newline")
    writer.close()
    await client.post("still serving")
    assert len((await client.log()).entries) == 1


@pytest.mark.asyncio
async def test_events_stream_new_entries(node: Node, client: ControlClient) -> None:
    events = client.events()
    other = await ControlClient.open(node.home.control_socket)
    try:
        received: list[tuple[str, object]] = []

        async def listen() -> None:
            async for kind, data in events:
                received.append((kind, data))
                return

        task = asyncio.create_task(listen())
        await asyncio.sleep(0.1)
        await other.post("an event")
        await asyncio.wait_for(task, 5)
        assert received[0][0] == "entry"
        assert EntryView.from_json(received[0][1]).text == "an event"  # type: ignore[arg-type]
    finally:
        await other.close()


@pytest.mark.asyncio
async def test_second_node_on_the_same_home_is_refused(node: Node) -> None:
    with pytest.raises(HomeLocked):
        await Node(node.home, ME, NodeConfig(), offline=True).start()
    assert node.home.control_socket.exists()


@pytest.mark.asyncio
async def test_stop_is_prompt_and_leaves_nothing_behind(tmp_path: Path) -> None:
    n = Node(make_home(tmp_path / "home"), ME, NodeConfig(), offline=True)
    await n.start()
    socket_path = n.home.control_socket
    started = time.monotonic()
    await n.stop()
    assert time.monotonic() - started < 2.0
    assert not socket_path.exists()
    with pytest.raises(NodeNotRunning):
        await ControlClient.open(socket_path)
    again = Node(n.home, ME, NodeConfig(), offline=True)  # lock released, db closed cleanly
    await again.start()
    await again.stop()


def test_sigterm_stops_a_headless_node_within_two_seconds(tmp_path: Path) -> None:
    home = make_home(tmp_path / "home")
    env = {**os.environ, "P2PSOCIAL_HOME": str(home.root)}
    proc = subprocess.Popen([sys.executable, "-m", "p2psocial", "run", "--offline"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 20
        while not home.control_socket.exists():
            assert time.monotonic() < deadline and proc.poll() is None
            time.sleep(0.05)
        post = subprocess.run([sys.executable, "-m", "p2psocial", "post", "while running"],
                              env=env, capture_output=True, text=True, timeout=30)
        assert post.returncode == 0, post.stderr
        started = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=5)
        assert time.monotonic() - started < 2.0
        assert proc.returncode == 0
    finally:
        proc.kill()
        proc.wait()
        stderr = proc.stderr.read() if proc.stderr else ""
        if proc.stderr:
            proc.stderr.close()
    assert "Traceback" not in stderr
    assert not home.control_socket.exists()
    log = subprocess.run([sys.executable, "-m", "p2psocial", "log", "--json"], env=env,
                         capture_output=True, text=True, timeout=30)
    assert [e["text"] for e in json.loads(log.stdout)["entries"]] == ["while running"]
