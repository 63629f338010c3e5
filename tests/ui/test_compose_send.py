"""Typing and sending at once loses nothing (issue 9, item 2): a paste, or keys typed faster
than the app handles them, followed at once by ctrl+s, posts the whole text. The app is
attached to a real node process, as `p2psocial` beside `p2psocial run` is, and in-process."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from textual import events
from textual.widgets import Input, Static, TextArea

from p2psocial.runtime.control import ControlClient
from p2psocial.runtime.local import open_local
from p2psocial.store.home import Home
from p2psocial.testing.nodes import NodeProcess
from p2psocial.ui.app import SocialApp
from p2psocial.ui.compose import ComposeScreen
from p2psocial.ui.dialogs import AboutDialog
from p2psocial.ui.home import HomeScreen
from p2psocial.ui.launch import attach, open_in_process

from .conftest import ME, SIZE, make_home, until

pytestmark = pytest.mark.slow

PASTED = "\n".join(f"line {i}: a pasted paragraph that is long enough to matter, #{i}"
                   for i in range(30))
TYPED = "typed fast, and sent before the app caught up"


@pytest.fixture
def running(tmp_path: Path) -> Iterator[NodeProcess]:
    node = NodeProcess.create(tmp_path / "home", name="Paster")
    node.start(extra=["--offline"])
    try:
        yield node
    finally:
        node.stop()


async def _paste_type_and_send(app: SocialApp, pilot: object) -> None:
    """Two posts: a paste then ctrl+s at once; keys then ctrl+s at once. The input reaches
    the app as a terminal delivers it: all in one read, before the app has handled any."""
    assert app._driver is not None
    for deliver in (_as_paste, _as_keys):
        await until(pilot, lambda: isinstance(app.screen, HomeScreen), what="home")  # type: ignore[arg-type]
        await pilot.press("c")  # type: ignore[attr-defined]
        await until(pilot, lambda: isinstance(app.screen, ComposeScreen)  # type: ignore[arg-type]
                    and app.screen.focused is app.screen.query_one("#text", TextArea),
                    what="the compose screen")
        await pilot.press(*"start: ")  # type: ignore[attr-defined]
        deliver(app)
        app._driver.send_message(events.Key("ctrl+s", None))
        await until(pilot, lambda: isinstance(app.screen, HomeScreen), timeout=15,  # type: ignore[arg-type]
                    what="the post sent")


async def _rename_fast(app: SocialApp, pilot: object) -> None:
    """The profile dialog's priority ctrl+s, right behind the keys of a new name."""
    assert app._driver is not None
    await pilot.press("3", "e")  # type: ignore[attr-defined]
    await until(pilot, lambda: isinstance(app.screen, AboutDialog), what="the dialog")  # type: ignore[arg-type]
    app.screen.query_one("#name", Input).value = ""
    for char in "Fast Name":
        app._driver.send_message(events.Key("space" if char == " " else char, char))
    app._driver.send_message(events.Key("ctrl+s", None))
    await until(pilot, lambda: not isinstance(app.screen, AboutDialog), timeout=15,  # type: ignore[arg-type]
                what="the profile saved")
    # the Me screen reloads on my new about entry: let it finish before the app closes
    await until(pilot, lambda: "Fast Name" in str(app.screen.query_one("#who", Static).render()),  # type: ignore[arg-type]
                timeout=15, what="the new name on the Me screen")


def _as_paste(app: SocialApp) -> None:
    assert app._driver is not None
    app._driver.send_message(events.Paste(PASTED))


def _as_keys(app: SocialApp) -> None:
    assert app._driver is not None
    for char in TYPED:
        app._driver.send_message(events.Key("space" if char == " " else char, char))


@pytest.mark.asyncio
async def test_attached_app_posts_the_whole_text_sent_at_once(running: NodeProcess) -> None:
    app = SocialApp(attach(running.home / "node.sock"))
    async with app.run_test(size=SIZE) as pilot:
        await _paste_type_and_send(app, pilot)
        await _rename_fast(app, pilot)
    client = await ControlClient.open(running.home / "node.sock")
    try:
        texts = [e.text for e in (await client.log(limit=3)).entries if e.type == "post"]
        name = (await client.feed()).name
    finally:
        await client.close()
    assert texts == ["start: " + TYPED, "start: " + PASTED]
    assert name == "Fast Name"


@pytest.mark.asyncio
async def test_in_process_app_posts_the_whole_text_sent_at_once(tmp_path: Path) -> None:
    home: Home = make_home(tmp_path / "home")
    app = SocialApp(open_in_process(home, ME, offline=True))
    async with app.run_test(size=SIZE) as pilot:
        await _paste_type_and_send(app, pilot)
    async with open_local(home, lambda doc: ME) as service:
        client_texts = [e.text for e in (await service.log(limit=2)).entries]
    assert client_texts == ["start: " + TYPED, "start: " + PASTED]
