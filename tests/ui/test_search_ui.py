"""The search screen (`/`) and the tag view (`#`): results from the whole store, paged, with
bad queries shown in one line (issue 12, the UI)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from textual.binding import Binding
from textual.widgets import Input, Static

from p2psocial.core.entry import Entry
from p2psocial.runtime.node import Node
from p2psocial.testing import FeedBuilder, raw_entries
from p2psocial.ui.app import SocialApp
from p2psocial.ui.bookmarks import BookmarksScreen
from p2psocial.ui.help import HelpScreen
from p2psocial.ui.home import HomeScreen
from p2psocial.ui.launch import attach, open_in_process
from p2psocial.ui.people import PeopleList, PeopleScreen
from p2psocial.ui.postlist import ROW_ACTIONS, PostList
from p2psocial.ui.profile import ProfileScreen
from p2psocial.ui.search import SearchScreen, lone_tag
from p2psocial.ui.tag import TagPicker, TagScreen
from p2psocial.ui.thread import ThreadScreen

from .conftest import (
    ALICE,
    BOB,
    ME,
    SIZE,
    World,
    app_for,
    build_home_sync,
    deliver,
    fill,
    until,
)

MANY = 70  # more than two pages of search results (30) and more than a tag page (50)


def tagged_posts(world: World) -> list[Entry]:
    """Alice's posts with tags: MANY fillers tagged #many, then one with two tags."""
    more = FeedBuilder(ALICE, after=world.builders["alice"].last)
    for i in range(MANY):
        more.post(f"filler number {i} #many", tags=("many",))
    more.post("tulips and roses #gardens #spring", tags=("gardens", "spring"))
    return more.entries


async def home_loaded(pilot: Any, app: SocialApp) -> None:
    await until(pilot, lambda: isinstance(app.screen, HomeScreen)
                and app.screen.query_one(PostList).rows, what="timeline")


async def search_for(pilot: Any, app: SocialApp, query: str) -> SearchScreen:
    await pilot.press("slash")
    assert isinstance(app.screen, SearchScreen)
    screen = app.screen
    await pilot.press(*query, "enter")
    await until(pilot, lambda: screen._searched == query, what=f"results of {query}")
    return screen


def texts(screen: Any) -> list[str]:
    """The texts of the screen's posts ([] before its list is there)."""
    lists = screen.query(PostList)
    return [r.post.text or "" for r in lists.first().rows] if lists else []


def status(screen: Any) -> str:
    return str(screen.query_one("#search-status", Static).render())


def test_lone_tag() -> None:
    assert lone_tag("#gardens") == "gardens"
    assert lone_tag("  #many ") == "many"
    assert lone_tag("#gardens roses") is None
    assert lone_tag("gardens") is None
    assert lone_tag("#") is None


def test_every_new_binding_names_an_action_that_exists() -> None:
    for cls in (SearchScreen, TagScreen, TagPicker, PeopleScreen, PeopleList, BookmarksScreen):
        for binding in cls.BINDINGS:
            assert isinstance(binding, Binding)
            owner: Any = SocialApp if binding.action.startswith("app.") else cls
            action = binding.action.removeprefix("app.").split("(")[0]
            assert callable(getattr(owner, f"action_{action}", None)), (cls, binding.key)


def test_every_row_action_has_a_handler_in_the_app() -> None:
    for key, action, _, _ in ROW_ACTIONS:
        assert callable(getattr(SocialApp, f"_row_{action}", None)), key


@pytest.mark.asyncio
async def test_search_finds_people_first_then_posts_and_opens_them(node: Node) -> None:
    app = app_for(node)
    async with app.run_test(size=SIZE) as pilot:
        await home_loaded(pilot, app)
        screen = await search_for(pilot, app, "alice")
        people = screen.query_one(PeopleList)
        assert [p.author for p in people.people] == [ALICE.handle]
        assert people.has_focus  # enter took the reader to the results, people first
        assert texts(screen) == ["nice garden, alice", "hello from alice #gardens"]
        assert "1 person · 2 posts" in status(screen)
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, ProfileScreen), what="profile")
        assert app.screen.handle == ALICE.handle  # type: ignore[attr-defined]
        await pilot.press("escape")
        assert app.screen is screen
        await pilot.press("tab")
        assert screen.query_one(PostList).has_focus
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, ThreadScreen), what="thread")
        await pilot.press("escape", "slash")
        assert screen.query_one(Input).has_focus


@pytest.mark.asyncio
async def test_search_pages_through_the_whole_store(node: Node, world: World) -> None:
    await deliver(node, tagged_posts(world))
    app = app_for(node)
    async with app.run_test(size=SIZE) as pilot:
        await home_loaded(pilot, app)
        screen = await search_for(pilot, app, "filler")
        post_list = screen.query_one(PostList)
        assert len(post_list.rows) == 30 and post_list.has_more
        assert post_list.rows[0].post.text == f"filler number {MANY - 1} #many"
        assert "30+ posts" in status(screen)
        for _ in range(10):
            await pilot.press("G")
            await pilot.pause(0.05)
            if len(post_list.rows) == MANY:
                break
        await until(pilot, lambda: len(post_list.rows) == MANY, what="every page")
        assert [r.post.text for r in post_list.rows] == [
            f"filler number {i} #many" for i in reversed(range(MANY))]
        assert not post_list.has_more
        assert f"{MANY} posts, newest first" in status(screen)


@pytest.mark.parametrize("query, says", [
    ('"unclosed', "unclosed quote"),
    ("*** !!!", "nothing to search for"),
    ("a*", "needs at least 2 letters"),
])
@pytest.mark.asyncio
async def test_a_query_the_node_refuses_is_one_line_in_the_screen(
        node: Node, query: str, says: str) -> None:
    app = app_for(node)
    async with app.run_test(size=SIZE) as pilot:
        await home_loaded(pilot, app)
        await pilot.press("slash")
        screen = app.screen
        await pilot.press(*query, "enter")
        line = screen.query_one("#search-status", Static)
        await until(pilot, lambda: line.has_class("error"), what="the error line")
        assert says in status(screen)
        await pilot.pause()
        shown = " ".join(" ".join(strip.text for strip in
                                  screen._compositor.render_strips()).split())
        assert " ".join(status(screen).split()) in shown  # the whole line, wrapped if long
        assert app.screen is screen and screen.query_one(Input).has_focus
        await pilot.press(*["backspace"] * len(query), *"garden", "enter")  # fixed: results
        await until(pilot, lambda: not line.has_class("error"), what="results")
        assert texts(screen) == ["nice garden, alice"]


@pytest.mark.asyncio
async def test_a_lone_tag_in_the_search_box_shows_the_tags_posts(node: Node,
                                                                  world: World) -> None:
    await deliver(node, tagged_posts(world))
    app = app_for(node)
    async with app.run_test(size=SIZE) as pilot:
        await home_loaded(pilot, app)
        screen = await search_for(pilot, app, "#spring")
        assert texts(screen) == ["tulips and roses #gardens #spring"]
        assert "1 post tagged #spring" in status(screen)
        assert not screen.query_one(PeopleList).display


async def select_text(pilot: Any, app: SocialApp, text: str) -> None:
    await until(pilot, lambda: any(r.post.text == text
                                   for r in app.screen.query_one(PostList).rows), what=text)
    post_list = app.screen.query_one(PostList)
    post_list.select(next(i for i, r in enumerate(post_list.rows) if r.post.text == text))


@pytest.mark.asyncio
async def test_hash_on_a_post_opens_its_tag_paged_and_asks_which_of_several(
        node: Node, world: World) -> None:
    await deliver(node, tagged_posts(world))
    app = app_for(node)
    async with app.run_test(size=SIZE) as pilot:
        await home_loaded(pilot, app)
        await select_text(pilot, app, f"filler number {MANY - 1} #many")
        await pilot.press("number_sign")
        await until(pilot, lambda: isinstance(app.screen, TagScreen)
                    and app.screen.query(PostList), what="tag view")
        tag_screen = app.screen
        post_list = tag_screen.query_one(PostList)
        await until(pilot, lambda: len(post_list.rows) == 50, what="a page")
        for _ in range(10):
            await pilot.press("G")
            await pilot.pause(0.05)
            if len(post_list.rows) == MANY:
                break
        await until(pilot, lambda: len(post_list.rows) == MANY, what="the next page")
        await pilot.press("escape")
        await select_text(pilot, app, "tulips and roses #gardens #spring")
        await pilot.press("number_sign")
        assert isinstance(app.screen, TagPicker)
        await pilot.press("j", "enter")
        await until(pilot, lambda: isinstance(app.screen, TagScreen)
                    and app.screen.tag == "spring", what="#spring")
        await until(pilot, lambda: texts(app.screen) == ["tulips and roses #gardens #spring"],
                    what="its posts")


@pytest.mark.asyncio
async def test_hash_on_a_post_without_tags_says_so(node: Node) -> None:
    app = app_for(node)
    async with app.run_test(size=SIZE) as pilot:
        await home_loaded(pilot, app)
        await select_text(pilot, app, "my first post, from the builder")
        await pilot.press("number_sign")
        assert isinstance(app.screen, HomeScreen)
        assert [n.message for n in app._notifications] == ["this post has no #tags"]


@pytest.mark.asyncio
async def test_a_tag_view_shows_a_new_tagged_post_live(node: Node, world: World) -> None:
    entries = tagged_posts(world)
    await deliver(node, entries)
    app = app_for(node)
    async with app.run_test(size=SIZE) as pilot:
        await home_loaded(pilot, app)
        app.push_screen(TagScreen("#gardens"))
        await until(pilot, lambda: texts(app.screen) == ["tulips and roses #gardens #spring"],
                    what="the tag's post")
        later = FeedBuilder(BOB, after=world.builders["bob"].last,  # newer than the tulips
                            start_ts=entries[-1].timestamp)
        later.post("my #Gardens too", tags=("Gardens",))
        await deliver(node, later.entries)
        await until(pilot, lambda: texts(app.screen)[0] == "my #Gardens too", what="live")


@pytest.mark.asyncio
async def test_ctrl_f_still_finds_in_the_loaded_rows(node: Node) -> None:
    app = app_for(node)
    async with app.run_test(size=SIZE) as pilot:
        await home_loaded(pilot, app)
        post_list = app.screen.query_one(PostList)
        await pilot.press("ctrl+f", *"thanks", "enter")
        assert isinstance(app.screen, HomeScreen)
        assert (post_list.current.post.text or "").startswith("thanks")  # type: ignore[union-attr]


@pytest.mark.asyncio
async def test_help_lists_the_new_keys(node: Node) -> None:
    app = app_for(node)
    async with app.run_test(size=SIZE) as pilot:
        await home_loaded(pilot, app)
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        keys = {k: what for _, rows in app.screen.sections() for k, what in rows}
        assert "Search all posts and people held here" in keys["/"]
        assert "bookmarks" in keys["'"]
        assert "#tag" in keys["#"]
        assert "Bookmark the post" in keys["m"]
        assert "Find text in the posts loaded here" in keys["ctrl+f"]
        await pilot.press("escape")
        await select_text(pilot, app, "hello from alice #gardens")
        await pilot.press("p")
        await until(pilot, lambda: isinstance(app.screen, ProfileScreen), what="profile")
        await pilot.press("question_mark")
        keys = {k: what for _, rows in app.screen.sections() for k, what in rows}
        assert "follows this account" in keys["f"] and "Whom" in keys["o"]


@pytest.mark.asyncio
async def test_search_through_an_attached_node(node: Node) -> None:
    app = SocialApp(attach(node.home.control_socket))
    async with app.run_test(size=SIZE) as pilot:
        await home_loaded(pilot, app)
        screen = await search_for(pilot, app, "alice")
        assert [p.author for p in screen.query_one(PeopleList).people] == [ALICE.handle]
        assert texts(screen) == ["nice garden, alice", "hello from alice #gardens"]
        await pilot.press("slash", *["backspace"] * 5, *'"oops', "enter")
        await until(pilot, lambda: "unclosed quote" in status(screen), what="the error")


def app_with(tmp_path: Path, world: World, extra: list[Entry]) -> SocialApp:
    """An app on a home holding `world` and `extra` (for snapshots: no event loop yet)."""
    home = build_home_sync(tmp_path / "home", world)
    asyncio.run(fill(home, raw_entries(extra)))
    return SocialApp(open_in_process(home, ME, offline=True),
                     settings_path=tmp_path / "home" / "ui.json")


def test_search_snapshot(snap_compare: Any, tmp_path: Path) -> None:
    world = World()
    more = FeedBuilder(ALICE, after=world.builders["alice"].last)
    more.post("tulips and roses in the garden #gardens #spring", tags=("gardens", "spring"))
    app = app_with(tmp_path, world, more.entries)

    async def searched(pilot: Any) -> None:
        await home_loaded(pilot, app)
        await until(pilot, lambda: app.state.network == "offline", what="the status")
        await search_for(pilot, app, "garden*")
        await until(pilot, lambda: len(texts(app.screen)) == 3, what="posts")
        await pilot.pause(0.1)
    assert snap_compare(app, terminal_size=SIZE, run_before=searched)


def test_tag_snapshot(snap_compare: Any, tmp_path: Path) -> None:
    world = World()
    more = FeedBuilder(ALICE, after=world.builders["alice"].last)
    more.post("tulips and roses #gardens #spring", tags=("gardens", "spring"))
    more.post("the pond is full of frogs #gardens", tags=("gardens",))
    app = app_with(tmp_path, world, more.entries)

    async def tagged(pilot: Any) -> None:
        await home_loaded(pilot, app)
        await until(pilot, lambda: app.state.network == "offline", what="the status")
        app.push_screen(TagScreen("gardens"))
        await until(pilot, lambda: len(texts(app.screen)) == 2, what="posts")
        await pilot.pause(0.1)
    assert snap_compare(app, terminal_size=SIZE, run_before=tagged)
