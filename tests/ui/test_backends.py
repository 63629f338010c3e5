"""The two backends: attached to a running node over its socket, and a node started inside
the app. Both show the same timeline and receive live entries."""

from __future__ import annotations

from pathlib import Path

import pytest

from p2psocial.runtime.config import NodeConfig
from p2psocial.runtime.node import Node
from p2psocial.store.home import is_locked
from p2psocial.testing import FeedBuilder
from p2psocial.ui.app import SocialApp
from p2psocial.ui.backend import AttachedBackend, InProcessBackend
from p2psocial.ui.home import HomeScreen
from p2psocial.ui.launch import attach, node_answers, open_in_process
from p2psocial.ui.postlist import PostList
from p2psocial.ui.render import now_ms

from .conftest import ALICE, ME, SIZE, World, deliver, fill, make_home, until


def texts(app: SocialApp) -> list[str]:
    return [r.post.text or "" for r in app.screen.query_one(PostList).rows]


@pytest.mark.asyncio
async def test_attached_app_shows_the_timeline_and_live_posts(node: Node,
                                                             world: World) -> None:
    assert node_answers(node.home.control_socket)
    app = SocialApp(attach(node.home.control_socket))
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: isinstance(app.screen, HomeScreen) and texts(app),
                    what="timeline")
        assert app.state.mode == "attached"
        local = await InProcessBackend(node, owns_node=False).timeline()
        assert texts(app) == [v.text or "" for v in local]
        live = FeedBuilder(ALICE, start_ts=now_ms(), after=world.builders["alice"].last)
        live.post("over the socket, live")
        await deliver(node, live.entries)
        await until(pilot, lambda: texts(app)[0] == "over the socket, live", what="live")
        await pilot.press("c", *"posted through the socket", "ctrl+s")
        await until(pilot, lambda: texts(app)[0] == "posted through the socket",
                    what="my post")
    assert (await node.service.log(limit=1)).entries[0].text == "posted through the socket"


@pytest.mark.asyncio
async def test_attached_and_in_process_backends_return_the_same_views(node: Node) -> None:
    remote = await AttachedBackend.open(node.home.control_socket)
    local = InProcessBackend(node, owns_node=False)
    try:
        for name in ("me", "feeds", "timeline", "notifications", "relays", "status",
                     "peers", "listen_addrs"):
            assert await getattr(remote, name)() == await getattr(local, name)(), name
        assert await remote.posts(ALICE.handle) == await local.posts(ALICE.handle)
        assert await remote.find_feeds("ali") == await local.find_feeds("ali")
    finally:
        await remote.close()


@pytest.mark.asyncio
async def test_in_process_node_starts_inside_the_app_goes_online_and_stops_with_it(
        tmp_path: Path) -> None:
    home = make_home(tmp_path / "home")
    await fill(home, World().raw())
    NodeConfig(listen=["/ip4/127.0.0.1/tcp/0"], mdns=False, dht=False).save(home.config_file)
    assert not node_answers(home.control_socket)
    app = SocialApp(open_in_process(home, ME))
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: isinstance(app.screen, HomeScreen) and texts(app),
                    what="timeline")
        assert app.state.mode == "in-process"
        assert node_answers(home.control_socket)  # other clients can attach meanwhile
        # after the first page, the node joins the network with the home's config
        await until(pilot, lambda: app.state.network == "no peers", timeout=15,
                    what="the node online")
        assert app.backend is not None
        assert (await app.backend.listen_addrs())[0].startswith("/ip4/127.0.0.1/tcp/")
        await pilot.press("q")
    assert not is_locked(home)
    assert not home.control_socket.exists()


@pytest.mark.asyncio
async def test_a_home_in_use_is_reported_not_crashed(node: Node) -> None:
    app = SocialApp(open_in_process(node.home, ME, offline=True))
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.failure is not None, what="the failure")
    assert app.failure is not None and "pid" in app.failure
    assert app.return_code == 1
    assert node_answers(node.home.control_socket)  # the running node is untouched


@pytest.mark.asyncio
async def test_a_cancelled_call_still_finishes_before_the_node_stops(node: Node) -> None:
    import asyncio
    backend = InProcessBackend(node, owns_node=False)
    caller = asyncio.create_task(backend.timeline(limit=50))
    await asyncio.sleep(0)  # the read is under way
    caller.cancel()
    await backend.close()  # waits for the read: its cursor is closed before the store is
    assert all(call.done() for call in backend._in_flight)
    await node.stop()  # the checkpoint finds no open statement
    await node.start()  # (the fixture stops it again)
