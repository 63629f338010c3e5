"""The main flows, driven by keys through a real app on a real node and database."""

from __future__ import annotations

import pytest

from p2psocial.runtime.node import Node
from p2psocial.testing import FeedBuilder
from p2psocial.ui.app import SocialApp
from p2psocial.ui.compose import ComposeScreen
from p2psocial.ui.home import HomeScreen
from p2psocial.ui.postlist import PostList
from p2psocial.ui.profile import ProfileScreen
from p2psocial.ui.render import now_ms
from p2psocial.ui.thread import ThreadScreen

from .conftest import ALICE, BOB, CAROL, ME, SIZE, World, app_for, deliver, until


def texts(app: SocialApp) -> list[str]:
    return [r.post.text or "" for r in app.screen.query_one(PostList).rows]


def authors(app: SocialApp) -> set[str]:
    return {r.post.author for r in app.screen.query_one(PostList).rows}


async def loaded(pilot, app: SocialApp) -> PostList:  # type: ignore[no-untyped-def]
    await until(pilot, lambda: app.screen.query(PostList) and
                app.screen.query_one(PostList).rows, what="rows")
    return app.screen.query_one(PostList)


@pytest.mark.asyncio
async def test_timeline_shows_followed_feeds_newest_first(node: Node, world: World) -> None:
    app = app_for(node)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot, app)
        assert isinstance(app.screen, HomeScreen)
        shown = authors(app)
        assert shown == {ME.handle, ALICE.handle, BOB.handle}  # carol is not followed
        rows = app.screen.query_one(PostList).rows
        stamps = [r.entry.timestamp for r in rows]
        assert stamps == sorted(stamps, reverse=True)
        assert app.state.names[ALICE.handle] == "Alice"


@pytest.mark.asyncio
async def test_compose_then_the_post_appears_at_the_top(node: Node) -> None:
    app = app_for(node)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot, app)
        await pilot.press("c")
        assert isinstance(app.screen, ComposeScreen)
        await pilot.press(*"written in the app #tui")
        await pilot.press("ctrl+s")
        await until(pilot, lambda: isinstance(app.screen, HomeScreen), what="compose closed")
        await until(pilot, lambda: texts(app)[0] == "written in the app #tui",
                    what="the new post on top")
    log = await node.service.log(limit=1)
    assert log.entries[0].text == "written in the app #tui"


@pytest.mark.asyncio
async def test_follow_by_key_brings_their_posts(node: Node) -> None:
    app = app_for(node)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot, app)
        assert CAROL.handle not in authors(app)
        await pilot.press("plus")
        await pilot.press(*CAROL.handle)
        await pilot.press("enter")
        await until(pilot, lambda: CAROL.handle in authors(app), what="carol's posts")
        assert CAROL.handle in app.state.following
    assert (await node.service.feed(CAROL.handle)).following


@pytest.mark.asyncio
async def test_open_thread_and_reply(node: Node, world: World) -> None:
    app = app_for(node)
    async with app.run_test(size=SIZE) as pilot:
        post_list = await loaded(pilot, app)
        index = next(i for i, r in enumerate(post_list.rows)
                     if r.post.hash == world.alice_post.hash.hex())
        post_list.select(index)
        await pilot.press("enter")
        assert isinstance(app.screen, ThreadScreen)
        thread = await loaded(pilot, app)
        await until(pilot, lambda: len(thread.rows) == 3, what="the thread")
        assert [r.depth for r in thread.rows] == [0, 1, 2]
        assert thread.current is not None
        assert thread.current.post.hash == world.alice_post.hash.hex()
        thread.select(1)  # bob's reply
        await pilot.press("r")
        assert isinstance(app.screen, ComposeScreen)
        await pilot.press(*"a reply from the thread")
        await pilot.press("ctrl+s")
        await until(pilot, lambda: isinstance(app.screen, ThreadScreen), what="back")
        thread = app.screen.query_one(PostList)
        await until(pilot, lambda: len(thread.rows) == 4, what="my reply in the thread")
        mine = next(r for r in thread.rows if r.post.author == ME.handle)
        assert mine.depth == 2 and mine.post.text == "a reply from the thread"


@pytest.mark.asyncio
async def test_block_from_profile_hides_their_posts(node: Node) -> None:
    app = app_for(node)
    async with app.run_test(size=SIZE) as pilot:
        post_list = await loaded(pilot, app)
        index = next(i for i, r in enumerate(post_list.rows) if r.post.author == BOB.handle)
        post_list.select(index)
        await pilot.press("p")
        assert isinstance(app.screen, ProfileScreen)
        await until(pilot, lambda: app.screen.feed is not None, what="profile")  # type: ignore[attr-defined]
        await pilot.press("B")
        await until(pilot, lambda: BOB.handle in app.state.blocked, what="blocked")
        await pilot.press("escape")
        assert isinstance(app.screen, HomeScreen)
        await until(pilot, lambda: BOB.handle not in authors(app), what="bob hidden")
        assert ALICE.handle in authors(app)
    assert (await node.service.feed(BOB.handle)).blocked


@pytest.mark.asyncio
async def test_live_entry_appears_with_a_new_marker_when_scrolled(node: Node,
                                                                 world: World) -> None:
    more = FeedBuilder(ALICE, after=world.builders["alice"].last)
    for i in range(30):
        more.post(f"older filler {i}")
    await deliver(node, more.entries)
    app = app_for(node)
    async with app.run_test(size=SIZE) as pilot:
        post_list = await loaded(pilot, app)
        await pilot.press(*"j" * 12)
        assert post_list.scroll_y > 0
        seen_top = post_list.rows[post_list._row_at(int(post_list.scroll_y))]
        live = FeedBuilder(ALICE, start_ts=now_ms(), after=more.last)
        live.post("arrived while you read")
        await deliver(node, live.entries)
        home = app.screen
        assert isinstance(home, HomeScreen)
        await until(pilot, lambda: home.new_count == 1, what="the new marker")
        marker = home.query_one("#new-marker")
        assert marker.display and "1 new post" in str(marker.render())
        # the view did not move: the same row is still at the top of the screen
        assert post_list.rows[post_list._row_at(int(post_list.scroll_y))] is seen_top
        await pilot.press("g")
        await until(pilot, lambda: home.new_count == 0, what="marker cleared")
        assert not marker.display
        assert texts(app)[0] == "arrived while you read"


@pytest.mark.asyncio
async def test_live_entry_at_the_top_appears_without_a_marker(node: Node,
                                                             world: World) -> None:
    app = app_for(node)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot, app)
        live = FeedBuilder(BOB, start_ts=now_ms(), after=world.builders["bob"].last)
        live.post("fresh from bob")
        await deliver(node, live.entries)
        await until(pilot, lambda: texts(app)[0] == "fresh from bob", what="live post")
        home = app.screen
        assert isinstance(home, HomeScreen) and home.new_count == 0


@pytest.mark.asyncio
async def test_infinite_scroll_loads_older_pages(node: Node, world: World) -> None:
    more = FeedBuilder(BOB, after=world.builders["bob"].last)
    for i in range(130):
        more.post(f"bob says {i}")
    await deliver(node, more.entries)
    app = app_for(node)
    async with app.run_test(size=SIZE) as pilot:
        post_list = await loaded(pilot, app)
        assert len(post_list.rows) == 50
        for _ in range(4):
            await pilot.press("G")
            await pilot.pause(0.1)
        await until(pilot, lambda: len(post_list.rows) >= 130, what="older pages")
        keys = [r.key for r in post_list.rows]
        assert len(keys) == len(set(keys))
