"""Every screen fits the terminal (issue 9, item 10): at 80×24 no footer key and no tab of
the top bar is cut; at 60 columns they shorten (shorter labels, fewer keys), never cut."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from textual.widgets import Footer
from textual.widgets._footer import FooterKey

from p2psocial.runtime.node import Node
from p2psocial.ui.app import SocialApp
from p2psocial.ui.postlist import PostList
from p2psocial.ui.profile import ProfileScreen
from p2psocial.ui.thread import ThreadScreen
from p2psocial.ui.widgets import SHORT, TABS, TopBar

from .conftest import ALICE, World, app_for, until

Opener = Callable[[Any, SocialApp, World], Awaitable[None]]


async def profile(pilot: Any, app: SocialApp, world: World) -> None:
    app.push_screen(ProfileScreen(ALICE.handle))


async def thread(pilot: Any, app: SocialApp, world: World) -> None:
    app.push_screen(ThreadScreen(world.alice_post.hash.hex()))


SCREENS: dict[str, tuple[str, ...] | Opener] = {
    "home": (), "notifications": ("2",), "me": ("3",), "network": ("4",), "compose": ("c",),
    "profile": profile, "thread": thread}


def footer_problems(app: SocialApp) -> list[str]:
    """Footer keys drawn past the right edge (cut), and labels drawn narrower than their
    text."""
    width = app.size.width
    problems = []
    for footer in app.screen.query(Footer):
        for key in footer.query(FooterKey):
            if not key.display or key.region.width == 0:
                continue
            label = f"{key.key_display} {key.description}".strip()
            if key.region.right > width:
                problems.append(f"{label!r} cut at the right edge")
            elif key.region.width < len(label):
                problems.append(f"{label!r} squeezed into {key.region.width} cells")
    return problems


def top_bar_problems(app: SocialApp) -> list[str]:
    text = "\n".join(str(bar.render()) for bar in app.screen.query(TopBar))
    labels = [(label, SHORT.get(label, label)) for _, _, label in TABS]
    return [f"tab {full!r} cut: {text!r}" for full, short_ in labels
            if full not in text and short_ not in text]


@pytest.mark.asyncio
@pytest.mark.parametrize("width", [80, 60])
async def test_footers_and_tabs_are_never_cut(node: Node, world: World, width: int) -> None:
    app = app_for(node)
    problems: list[str] = []
    async with app.run_test(size=(width, 24)) as pilot:
        await until(pilot, lambda: app.screen.query(PostList)
                    and app.screen.query_one(PostList).rows, what="timeline")
        for name, how in SCREENS.items():
            if callable(how):
                await how(pilot, app, world)
            else:
                await pilot.press(*how)
            await pilot.pause(0.2)
            await pilot.pause()
            problems += [f"{name} at {width}: {p}" for p in footer_problems(app)
                         + top_bar_problems(app)]
            await pilot.press("escape")
            while len(app.screen_stack) > 1:
                app.pop_screen()
            app.switch_mode("home")
            await pilot.pause()
    assert problems == []


def footer_labels(app: SocialApp) -> list[str]:
    return [str(key.description) for footer in app.screen.query(Footer)
            for key in footer.query(FooterKey) if key.display]


@pytest.mark.asyncio
async def test_my_own_profile_offers_no_follow_block_or_mute(node: Node, world: World) -> None:
    """They did nothing there, silently; at 80 columns they pushed Following and Back out."""
    app = app_for(node)
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: app.screen.query(PostList), what="timeline")
        app.push_screen(ProfileScreen(ALICE.handle))
        await until(pilot, lambda: "Follow/unfollow" in footer_labels(app)
                    or "Follow" in footer_labels(app), what="alice's profile keys")
        app.pop_screen()
        app.push_screen(ProfileScreen(app.state.me))
        screen = app.screen
        never = {"Follow/unfollow", "Follow", "Block/unblock", "Block", "Mute"}
        # not even before the feed is loaded (they were offered until its devices were
        # counted: CI caught the footer in between)
        unloaded = ProfileScreen(app.state.me)
        assert unloaded.feed is None
        for action in ("toggle_follow", "toggle_block", "toggle_mute"):
            assert unloaded.check_action(action, ()) is False
        await until(pilot, lambda: isinstance(screen, ProfileScreen) and screen.feed is not None
                    and "Following" in footer_labels(app), what="my profile's keys")
        labels = footer_labels(app)
        assert not never & set(labels)
        assert footer_problems(app) == []
