"""Switching screens quickly in an app attached to a running node: each screen restarts its
loaders, which cancels node calls in flight; no reply may reach the wrong call, and the app
must not crash (issue 9, item 1)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from textual import events

from p2psocial.runtime.control import ControlClient
from p2psocial.testing.nodes import NodeProcess
from p2psocial.ui.app import SocialApp
from p2psocial.ui.home import HomeScreen
from p2psocial.ui.launch import attach
from p2psocial.ui.postlist import PostList

from .conftest import SIZE, until

pytestmark = pytest.mark.slow


@pytest.fixture
def running(tmp_path: Path) -> Iterator[NodeProcess]:
    node = NodeProcess.create(tmp_path / "home", name="Switcher")
    node.start(extra=["--offline"])
    try:
        yield node
    finally:
        node.stop()


@pytest.mark.asyncio
async def test_switching_screens_fast_while_attached_never_crosses_replies(
        running: NodeProcess) -> None:
    client = await ControlClient.open(running.home / "node.sock")
    try:
        for i in range(10):
            await client.post(f"post {i}")
    finally:
        await client.close()
    app = SocialApp(attach(running.home / "node.sock"))
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: isinstance(app.screen, HomeScreen), what="home")
        assert app._driver is not None
        # my profile changing meanwhile (as another client renames me) restarts the Me
        # screen's loader while its calls are in flight
        renamer = await ControlClient.open(running.home / "node.sock")
        try:
            for round_ in range(5):
                for key in ("3", "4", "3", "1", "2", "3"):
                    app._driver.send_message(events.Key(key, key))
                    await renamer.set_about(f"Switcher {round_} {key}")
                    await pilot.pause(0.005 * (round_ % 3))
        finally:
            await renamer.close()
        await pilot.press("1")
        await until(pilot, lambda: isinstance(app.screen, HomeScreen)
                    and bool(app.screen.query_one(PostList).rows), timeout=15,
                    what="the timeline after the switching")
        await pilot.press("3", "4", "1")
        await until(pilot, lambda: isinstance(app.screen, HomeScreen)
                    and [r.post.text for r in app.screen.query_one(PostList).rows][:1]
                    == ["post 9"], timeout=15, what="the timeline once more")
