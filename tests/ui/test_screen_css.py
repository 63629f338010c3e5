"""Our screens get Textual's screen styles (issue 9 walk-through): the workers mixin was a
DOMNode placed before Screen in the bases, and Textual takes a class's CSS type names from
the first DOMNode base only, so `Screen` and `ModalScreen` rules (the opaque background
among them) matched none of our screens. The compose screen was transparent: the row
between its hint and its text showed the home timeline beneath ("▌ 👍 1")."""

from __future__ import annotations

import pytest
from textual.screen import ModalScreen, Screen

from p2psocial.runtime.node import Node
from p2psocial.ui.compose import ComposeScreen
from p2psocial.ui.follow import FollowDialog
from p2psocial.ui.postlist import PostList

from .conftest import app_for, until


@pytest.mark.asyncio
async def test_compose_is_opaque_over_the_timeline(node: Node) -> None:
    app = app_for(node)
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: bool(app.screen.query(PostList)), what="home")
        home = app.screen
        assert "Screen" in home._css_type_names
        assert home.styles.background.a == 1
        await pilot.press("c")
        await until(pilot, lambda: isinstance(app.screen, ComposeScreen), what="compose")
        await pilot.pause()
        assert isinstance(app.screen, Screen) and app.screen.styles.background.a == 1
        text_top = app.screen.query_one("#text").region.y
        gap = app.screen._compositor.render_strips()[text_top - 1].text
        assert gap.strip() == "", gap


@pytest.mark.asyncio
async def test_the_follow_dialog_dims_what_is_beneath(node: Node) -> None:
    app = app_for(node)
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: bool(app.screen.query(PostList)), what="home")
        await pilot.press("+")
        await until(pilot, lambda: isinstance(app.screen, FollowDialog), what="follow")
        assert "ModalScreen" in app.screen._css_type_names
        assert isinstance(app.screen, ModalScreen) and 0 < app.screen.styles.background.a < 1
