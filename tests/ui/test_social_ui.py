"""Followers / following from a profile, and bookmarks (issue 12, the UI): real screens over
the node's lists, reachable by keys, each with a snapshot."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from textual.widgets import Static

from p2psocial.runtime.node import Node
from p2psocial.testing import FeedBuilder, raw_entries
from p2psocial.ui.app import SocialApp
from p2psocial.ui.bookmarks import BookmarksScreen
from p2psocial.ui.home import HomeScreen
from p2psocial.ui.launch import attach, open_in_process
from p2psocial.ui.people import PeopleList, PeopleScreen
from p2psocial.ui.postlist import PostList
from p2psocial.ui.profile import ProfileScreen
from p2psocial.ui.search import SearchScreen
from p2psocial.ui.tag import TagScreen

from .conftest import (
    ALICE,
    BOB,
    CAROL,
    ME,
    SIZE,
    World,
    app_for,
    build_home_sync,
    deliver,
    fill,
    until,
)
from .test_fit import footer_problems, top_bar_problems


async def home_loaded(pilot: Any, app: SocialApp) -> PostList:
    await until(pilot, lambda: isinstance(app.screen, HomeScreen)
                and app.screen.query_one(PostList).rows, what="timeline")
    return app.screen.query_one(PostList)


def select_text(post_list: PostList, text: str) -> None:
    post_list.select(next(i for i, r in enumerate(post_list.rows) if r.post.text == text))


def people_of(app: SocialApp) -> list[str]:
    """The handles the people screen lists ([] before it has loaded)."""
    lists = app.screen.query(PeopleList)
    return [p.author for p in lists.first().people] if lists else []


def texts(app: SocialApp) -> list[str]:
    lists = app.screen.query(PostList)
    return [r.post.text or "" for r in lists.first().rows] if lists else []


async def open_profile(pilot: Any, app: SocialApp, text: str) -> None:
    select_text(await home_loaded(pilot, app), text)
    await pilot.press("p")
    await until(pilot, lambda: isinstance(app.screen, ProfileScreen)
                and app.screen.feed is not None, what="profile")


@pytest.mark.asyncio
async def test_followers_and_following_from_a_profile(node: Node, world: World) -> None:
    carol = FeedBuilder(CAROL, after=world.builders["carol"].last)
    carol.follow(ME.public_key)
    carol.follow(ALICE.public_key)
    await deliver(node, carol.entries)
    app = app_for(node)
    async with app.run_test(size=SIZE) as pilot:
        await open_profile(pilot, app, "my first post, from the builder")
        await pilot.press("f")
        await until(pilot, lambda: people_of(app) == [BOB.handle, CAROL.handle],
                    what="my followers")  # named ones, by name
        screen = app.screen
        assert isinstance(screen, PeopleScreen) and screen.kind == "followers"
        summary = str(screen.query_one("#people-summary", Static).render())
        assert "2 accounts held here follow Me Myself" in summary
        await pilot.press("j", "enter")
        await until(pilot, lambda: isinstance(app.screen, ProfileScreen)
                    and app.screen.handle == CAROL.handle, what="carol's profile")
        await pilot.press("o")
        await until(pilot, lambda: people_of(app) == [ALICE.handle, ME.handle],
                    what="whom carol follows")
        assert "Carol follows 2 accounts" in str(
            app.screen.query_one("#people-summary", Static).render())
        await pilot.press("tab")  # to carol's followers: nobody held follows her
        await until(pilot, lambda: "0 accounts" in str(
            app.screen.query_one("#people-summary", Static).render()), what="followers")
        assert people_of(app) == []


@pytest.mark.asyncio
async def test_F_in_a_people_list_follows_the_selected_person(node: Node,
                                                              world: World) -> None:
    carol = FeedBuilder(CAROL, after=world.builders["carol"].last)
    carol.follow(ME.public_key)
    await deliver(node, carol.entries)
    app = app_for(node)
    async with app.run_test(size=SIZE) as pilot:
        await home_loaded(pilot, app)
        app.action_people("followers")
        await until(pilot, lambda: people_of(app) == [BOB.handle, CAROL.handle],
                    what="followers")
        await pilot.press("j", "F")
        await until(pilot, lambda: CAROL.handle in app.state.following, what="followed")
        await until(pilot, lambda: app.screen.query_one(PeopleList).people[1].following,
                    what="the mark")
        assert CAROL.handle in await node.service.following()


@pytest.mark.asyncio
async def test_m_toggles_a_bookmark_and_quote_lists_them(node: Node, world: World) -> None:
    app = app_for(node)
    async with app.run_test(size=SIZE) as pilot:
        post_list = await home_loaded(pilot, app)
        select_text(post_list, "hello from alice #gardens")
        await pilot.press("m")
        await until(pilot, lambda: [n.message for n in app._notifications]
                    == ["Bookmarked: ' lists your bookmarks"], what="the notice")
        assert [v.hash for v in await node.service.bookmarks()] == [world.alice_post.hash.hex()]
        select_text(post_list, "thanks bob")
        await pilot.press("m")
        await until(pilot, lambda: len(app.marks.hashes) == 2, what="second bookmark")
        await pilot.press("apostrophe")
        await until(pilot, lambda: texts(app) == ["thanks bob", "hello from alice #gardens"],
                    what="bookmarks, the latest first")
        assert isinstance(app.screen, BookmarksScreen)
        await pilot.press("j", "m")  # taken back from the list itself
        await until(pilot, lambda: texts(app) == ["thanks bob"], what="one left")
        assert [v.text for v in await node.service.bookmarks()] == ["thanks bob"]
        await pilot.press("enter")  # opens the thread as anywhere
        await until(pilot, lambda: type(app.screen).__name__ == "ThreadScreen", what="thread")


@pytest.mark.asyncio
async def test_a_bookmark_made_elsewhere_is_learnt_at_the_next_press(node: Node,
                                                                     world: World) -> None:
    app = app_for(node)
    async with app.run_test(size=SIZE) as pilot:
        post_list = await home_loaded(pilot, app)
        select_text(post_list, "hello from alice #gardens")
        await pilot.press("m")
        await until(pilot, lambda: app.marks.hashes, what="bookmarked")
        await node.service.unbookmark(world.alice_post.hash.hex())  # the CLI, say
        await pilot.press("m")  # the UI thought it bookmarked: the node says no, in a line
        await until(pilot, lambda: any("is not bookmarked" in n.message
                                       for n in app._notifications), what="the refusal")
        await until(pilot, lambda: not app.marks.hashes, what="marks read again")
        await pilot.press("m")
        await until(pilot, lambda: app.marks.hashes, what="bookmarked again")
        assert len(await node.service.bookmarks()) == 1


@pytest.mark.asyncio
async def test_bookmarks_page_through_all_of_them(node: Node, world: World) -> None:
    more = FeedBuilder(ALICE, after=world.builders["alice"].last)
    for i in range(70):
        more.post(f"kept {i}")
    await deliver(node, more.entries)
    for entry in more.entries:
        await node.service.bookmark(entry.hash.hex())
    app = app_for(node)
    async with app.run_test(size=SIZE) as pilot:
        await home_loaded(pilot, app)
        await pilot.press("apostrophe")
        await until(pilot, lambda: len(texts(app)) == 50, what="a page")
        post_list = app.screen.query_one(PostList)
        for _ in range(10):
            await pilot.press("G")
            await pilot.pause(0.05)
            if len(post_list.rows) == 70:
                break
        await until(pilot, lambda: len(post_list.rows) == 70, what="all of them")
        assert len({r.key for r in post_list.rows}) == 70


@pytest.mark.asyncio
async def test_people_and_bookmarks_through_an_attached_node(node: Node,
                                                             world: World) -> None:
    await node.service.bookmark(world.bob_post.hash.hex())
    app = SocialApp(attach(node.home.control_socket))
    async with app.run_test(size=SIZE) as pilot:
        await home_loaded(pilot, app)
        app.action_people("following")
        await until(pilot, lambda: people_of(app) == [ALICE.handle, BOB.handle],
                    what="whom I follow")
        await pilot.press("escape", "apostrophe")
        await until(pilot, lambda: texts(app) == [f"hey @{ME.handle} look at this"],
                    what="bookmarks")


@pytest.mark.asyncio
@pytest.mark.parametrize("width", [80, 60])
async def test_the_new_screens_footers_and_tabs_are_never_cut(node: Node, width: int) -> None:
    app = app_for(node)
    opened: list[Any] = [SearchScreen("alice"), TagScreen("gardens"),
                         PeopleScreen(ME.handle, "followers"), BookmarksScreen()]
    async with app.run_test(size=(width, 24)) as pilot:
        await home_loaded(pilot, app)
        problems = footer_problems(app) + top_bar_problems(app)
        for screen in opened:
            app.push_screen(screen)
            await until(pilot, lambda s=screen: app.screen is s and s.query("FooterKey"),
                        what=type(screen).__name__)
            await pilot.pause(0.1)
            problems += [f"{type(screen).__name__}: {p}"
                         for p in footer_problems(app) + top_bar_problems(app)]
            await pilot.press("escape")
    assert problems == []


def app_on(tmp_path: Path, world: World, extra: list[Any]) -> SocialApp:
    home = build_home_sync(tmp_path / "home", world)
    asyncio.run(fill(home, raw_entries(extra)))
    return SocialApp(open_in_process(home, ME, offline=True),
                     settings_path=tmp_path / "home" / "ui.json")


def test_people_snapshot(snap_compare: Any, tmp_path: Path) -> None:
    world = World()
    carol = FeedBuilder(CAROL, after=world.builders["carol"].last)
    carol.about("Carol", "Knits, bakes, and follows everyone back")
    carol.follow(ME.public_key)
    app = app_on(tmp_path, world, carol.entries)

    async def followers(pilot: Any) -> None:
        await home_loaded(pilot, app)
        await until(pilot, lambda: app.state.network == "offline", what="the status")
        app.action_people("followers")
        await until(pilot, lambda: len(people_of(app)) == 2, what="followers")
        await pilot.pause(0.1)
    assert snap_compare(app, terminal_size=SIZE, run_before=followers)


def test_bookmarks_snapshot(snap_compare: Any, tmp_path: Path) -> None:
    app = app_on(tmp_path, World(), [])

    async def bookmarked(pilot: Any) -> None:
        post_list = await home_loaded(pilot, app)
        await until(pilot, lambda: app.state.network == "offline", what="the status")
        select_text(post_list, "hello from alice #gardens")
        await pilot.press("m")
        await until(pilot, lambda: app.marks.hashes, what="bookmarked")
        await pilot.press("apostrophe")
        await until(pilot, lambda: len(texts(app)) == 1, what="bookmarks")
        app.clear_notifications()
        await pilot.pause(0.1)
    assert snap_compare(app, terminal_size=SIZE, run_before=bookmarked)


@pytest.mark.asyncio
async def test_f_and_o_on_me_list_my_followers_and_whom_i_follow(node: Node) -> None:
    """Me shows my counts; f and o did nothing there (helper walk at 80x24)."""
    app = app_for(node)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.screen.query("PostList"), what="home")
        await pilot.press("3", "f")
        await until(pilot, lambda: people_of(app) == [BOB.handle], what="my followers")
        await pilot.press("escape", "o")
        await until(pilot, lambda: people_of(app) == [ALICE.handle, BOB.handle],
                    what="whom I follow")
        screen = app.screen
        assert isinstance(screen, PeopleScreen) and screen.kind == "following"
