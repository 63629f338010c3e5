"""Naming people in the UI: Tab completes @names in compose, and following a handle nothing
here has seen asks first (real app, node and database)."""

from __future__ import annotations

import pytest
from textual.widgets import TextArea

from p2psocial.runtime.node import Node
from p2psocial.testing import identity_for
from p2psocial.ui.compose import ComposeScreen
from p2psocial.ui.dialogs import ConfirmDialog
from p2psocial.ui.home import HomeScreen
from p2psocial.ui.postlist import PostList

from .conftest import ALICE, SIZE, app_for, until

STRANGER = identity_for("ui-never-seen")


@pytest.mark.asyncio
async def test_tab_completes_an_at_name_and_the_post_mentions_them(node: Node) -> None:
    app = app_for(node)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.screen.query(PostList)
                    and app.screen.query_one(PostList).rows, what="rows")
        await pilot.press("c")
        assert isinstance(app.screen, ComposeScreen)
        await pilot.press(*"hi @ali")
        await pilot.press("tab")
        area = app.screen.query_one("#text", TextArea)
        await until(pilot, lambda: area.text == "hi @Alice ", what="@Alice completed")
        await pilot.press(*"and welcome")
        await pilot.press("ctrl+s")
        await until(pilot, lambda: isinstance(app.screen, HomeScreen), what="posted")
    [view] = (await node.service.log(limit=1)).entries
    assert view.content is not None and view.content["mentions"] == [ALICE.handle]
    assert view.text == f"hi @{ALICE.handle} and welcome"


@pytest.mark.asyncio
async def test_following_a_handle_never_seen_asks_first(node: Node) -> None:
    app = app_for(node)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.screen.query(PostList)
                    and app.screen.query_one(PostList).rows, what="rows")
        for answer in ("n", "y"):
            await pilot.press("plus")
            await pilot.press(*STRANGER.handle)
            await pilot.press("enter")
            await until(pilot, lambda: isinstance(app.screen, ConfirmDialog),
                        what="the question")
            await pilot.press(answer)
            if answer == "n":
                assert not (await node.service.feed(STRANGER.handle)).following
                await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, HomeScreen), what="dialog closed")
    assert (await node.service.feed(STRANGER.handle)).following
