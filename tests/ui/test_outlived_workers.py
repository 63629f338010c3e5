"""Loaders that outlive their screen (issue 9): a screen's worker whose node call returns
while the screen is being taken down (the app quits, or the screen is closed, mid-reload)
ends there, instead of querying widgets that are gone (NoMatches '#qr' on quitting with the
Me screen reloading; NoMatches PostList when a profile was closed while it reloaded after a
block)."""

from __future__ import annotations

import asyncio

import pytest
from textual.widget import Widget
from textual.worker import Worker

from p2psocial.runtime.node import Node
from p2psocial.runtime.views import EntryView, FeedView
from p2psocial.ui.app import SocialApp
from p2psocial.ui.backend import Cursor, InProcessBackend
from p2psocial.ui.home import HomeScreen
from p2psocial.ui.me import MeScreen
from p2psocial.ui.profile import ProfileScreen

from .conftest import BOB, SIZE, until


class HeldBackend(InProcessBackend):
    """The real node, whose answers to `me` and `posts` (the Me screen's first call, the
    profile loader's last) can be held until the test lets them through; while held, the
    node's answers about my relays and addresses are the ones it gave before (the Me
    loader then runs from `me` to its widgets at once)."""

    def __init__(self, node: Node) -> None:
        super().__init__(node, owns_node=False)
        self.hold = False
        self.held = asyncio.Event()
        self.release = asyncio.Event()
        self.kept: dict[str, list[str]] = {}
        self.me_view: FeedView | None = None

    async def keep_answers(self) -> None:
        self.me_view = await super().me()
        self.kept = {"relays": await super().relays(),
                     "listen": await super().listen_addrs()}

    async def _wait(self) -> None:
        if self.hold:
            self.held.set()
            await self.release.wait()

    async def me(self) -> FeedView:
        if not self.hold:
            return await super().me()
        await self._wait()
        assert self.me_view is not None
        return self.me_view

    async def relays(self) -> list[str]:
        return self.kept["relays"] if self.hold else await super().relays()

    async def listen_addrs(self) -> list[str]:
        return self.kept["listen"] if self.hold else await super().listen_addrs()

    async def posts(self, handle: str, *, limit: int = 50,
                    before: Cursor = None) -> list[EntryView]:
        views = await super().posts(handle, limit=limit, before=before)
        await self._wait()
        return views


def app_on(backend: HeldBackend) -> SocialApp:
    async def opener() -> HeldBackend:
        return backend
    return SocialApp(opener)


async def answer_once_gone(backend: HeldBackend, widget: Widget) -> None:
    """Let the held call answer as soon as `widget` is out of the screen (the screen's
    own removal comes after its children's)."""
    while widget.parent is not None:
        await asyncio.sleep(0)
    backend.release.set()


def assert_ended_quietly(worker: Worker[None]) -> None:
    assert worker.error is None or isinstance(worker.error, asyncio.CancelledError), \
        repr(worker.error)


@pytest.mark.asyncio
async def test_a_reload_started_while_the_app_quits_does_not_touch_the_me_screen(
        node: Node) -> None:
    backend = HeldBackend(node)
    app = app_on(backend)
    reloads: list[Worker[None]] = []
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("3")
        await until(pilot, lambda: isinstance(app.screen, MeScreen), what="the Me screen")
        screen = app.screen
        assert isinstance(screen, MeScreen)
        await until(pilot, lambda: "Your handle" in str(screen.query_one("#who").render()),
                    what="the first load")
        await backend.keep_answers()
        backend.hold = True

        async def reload_while_quitting() -> None:
            while app._running:  # the app's workers were cancelled; its screens go next
                await asyncio.sleep(0)
            reloads.append(screen.load())  # (a StatusChanged handled during the shutdown)
            await answer_once_gone(backend, screen.query_one("#qr"))
        watcher = asyncio.create_task(reload_while_quitting())
        app.exit()
    await asyncio.wait_for(watcher, 10)
    assert_ended_quietly(reloads[0])
    assert app.return_code == 0


@pytest.mark.asyncio
async def test_closing_a_profile_while_it_reloads_ends_its_loader_quietly(
        node: Node) -> None:
    backend = HeldBackend(node)
    app = app_on(backend)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: isinstance(app.screen, HomeScreen), what="home")
        app.push_screen(ProfileScreen(BOB.handle))
        await until(pilot, lambda: getattr(app.screen, "feed", None) is not None,
                    what="the profile")
        profile = app.screen
        assert isinstance(profile, ProfileScreen)
        await until(pilot, lambda: profile.post_list.rows, what="its posts")
        backend.hold = True
        reload = profile.load()  # as after B (block) or a relation change
        await until(pilot, backend.held.is_set, what="the reload to wait on the node")
        watcher = asyncio.create_task(answer_once_gone(backend, profile.post_list))
        await pilot.press("escape")
        await asyncio.wait_for(watcher, 10)
        await until(pilot, lambda: reload.is_finished, what="the reload to end")
        assert isinstance(app.screen, HomeScreen)
    assert_ended_quietly(reload)
