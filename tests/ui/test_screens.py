"""Each screen on a real node: what it shows and what its keys do."""

from __future__ import annotations

import contextlib
import re
from pathlib import Path

import pytest
from textual.widgets import DataTable, Input, Static, TextArea

from p2psocial.runtime.node import Node
from p2psocial.ui import compose as compose_module
from p2psocial.ui.app import SocialApp
from p2psocial.ui.compose import ComposeScreen
from p2psocial.ui.dialogs import AboutDialog, ConfirmDialog, ReactDialog
from p2psocial.ui.follow import FollowDialog
from p2psocial.ui.help import HelpScreen
from p2psocial.ui.home import HomeScreen
from p2psocial.ui.me import MeScreen
from p2psocial.ui.network import NetworkScreen
from p2psocial.ui.notifications import NotificationsScreen
from p2psocial.ui.postlist import ROW_ACTIONS, PostList
from p2psocial.ui.profile import ProfileScreen
from p2psocial.ui.thread import ThreadScreen
from p2psocial.ui.widgets import TopBar

from .conftest import ALICE, BOB, ME, SIZE, World, app_for, until


async def rows_of(pilot, app: SocialApp) -> PostList:  # type: ignore[no-untyped-def]
    await until(pilot, lambda: app.screen.query(PostList) and
                app.screen.query_one(PostList).rows, what="rows")
    return app.screen.query_one(PostList)


def select(post_list: PostList, ref: str) -> None:
    post_list.select(next(i for i, r in enumerate(post_list.rows) if r.post.hash == ref))


def screen_lines(post_list: PostList) -> str:
    return "\n".join(post_list.render_line(y).text for y in range(post_list.size.height))


def static_text(app: SocialApp, selector: str) -> str:
    return str(app.screen.query_one(selector, Static).render())


@pytest.mark.asyncio
async def test_notifications_list_mentions_reactions_and_followers(node: Node) -> None:
    app = app_for(node)
    async with app.run_test(size=SIZE) as pilot:
        await rows_of(pilot, app)
        await pilot.press("2")
        assert isinstance(app.screen, NotificationsScreen)
        post_list = await rows_of(pilot, app)
        kinds = {r.kind for r in post_list.rows}
        assert kinds == {"mention", "react", "follow"}
        follow = next(i for i, r in enumerate(post_list.rows) if r.kind == "follow")
        post_list.select(follow)
        await pilot.press("r")  # it opened a reply to the follow entry
        await until(pilot, lambda: app._notifications, what="the refusal")
        assert [n.message for n in app._notifications] == [
            "only a post can be replied to: this is a follow"]
        assert isinstance(app.screen, NotificationsScreen)
        await pilot.press("enter")  # a follower opens as their profile
        assert isinstance(app.screen, ProfileScreen) and app.screen.handle == BOB.handle
        await pilot.press("1")
        assert isinstance(app.screen, HomeScreen)
        await pilot.press("2")  # the notifications section kept its stack
        assert isinstance(app.screen, ProfileScreen)
        await pilot.press("2")  # its own key again: back to its first screen (it did nothing)
        assert isinstance(app.screen, NotificationsScreen)


@pytest.mark.asyncio
async def test_a_reply_to_me_becomes_an_unread_notification(node: Node,
                                                           world: World) -> None:
    from p2psocial.testing import FeedBuilder
    from p2psocial.ui.render import now_ms

    from .conftest import deliver
    app = app_for(node)
    async with app.run_test(size=SIZE) as pilot:
        await rows_of(pilot, app)
        live = FeedBuilder(ALICE, start_ts=now_ms(), after=world.builders["alice"].last)
        live.reply(world.my_post, "replying to you, me")
        await deliver(node, live.entries)
        await until(pilot, lambda: app.state.unread == 1, what="an unread notification")
        bar = str(app.screen.query_one(TopBar).render())
        # the count is its tab's: "•1 3 Me" read as the next tab's (helper walk, 80x24)
        assert re.search(r"•1  3 ", bar), bar
        await pilot.press("2")
        post_list = await rows_of(pilot, app)
        assert post_list.rows[0].kind == "reply"
        await until(pilot, lambda: app.state.unread == 0, what="read")


@pytest.mark.asyncio
async def test_thread_reacts_and_reposts_from_a_row(node: Node, world: World) -> None:
    app = app_for(node)
    async with app.run_test(size=SIZE) as pilot:
        post_list = await rows_of(pilot, app)
        select(post_list, world.alice_post.hash.hex())
        await pilot.press("enter")
        assert isinstance(app.screen, ThreadScreen)
        thread = await rows_of(pilot, app)
        await until(pilot, lambda: len(thread.rows) == 3, what="thread")
        thread.select(0)
        await pilot.press("l")
        await until(pilot, lambda: thread.rows[0].post.reactions.get("❤") == 1,
                    what="the reaction counted")
        await pilot.press("L")
        assert isinstance(app.screen, ReactDialog)
        app.screen.query_one(Input).value = "🎉"
        await pilot.press("enter")
        await until(pilot, lambda: thread.rows[0].post.reactions.get("🎉") == 1,
                    what="a custom reaction")
        await pilot.press("b")
        await until(pilot, lambda: thread.rows[0].post.reposts == 1, what="the repost")
    log = await node.service.log(limit=3)
    assert [e.type for e in log.entries] == ["repost", "react", "react"]


@pytest.mark.asyncio
async def test_quote_shows_context_and_posts_a_quote(node: Node, world: World) -> None:
    app = app_for(node)
    async with app.run_test(size=SIZE) as pilot:
        post_list = await rows_of(pilot, app)
        select(post_list, world.alice_post.hash.hex())
        await pilot.press("quotation_mark")
        assert isinstance(app.screen, ComposeScreen)
        assert "Quoting Alice" in static_text(app, "#context")
        await pilot.press(*"so true", "ctrl+s")
        await until(pilot, lambda: isinstance(app.screen, HomeScreen), what="home")
        await until(pilot, lambda: post_list.rows[0].post.text == "so true", what="quote")
        await pilot.press("g")
        assert "┃ hello from alice" in screen_lines(post_list)


@pytest.mark.asyncio
async def test_compose_counts_characters_keeps_drafts_and_uses_the_editor(
        node: Node, monkeypatch: pytest.MonkeyPatch) -> None:
    app = app_for(node)
    async with app.run_test(size=SIZE) as pilot:
        await rows_of(pilot, app)
        await pilot.press("c", *"dr:q?")  # keys that mean something elsewhere type here
        assert isinstance(app.screen, ComposeScreen)
        assert app.screen.query_one("#text", TextArea).text == "dr:q?"
        app.screen.query_one("#text", TextArea).text = "draft"
        await pilot.pause()
        assert static_text(app, "#count") == "5 / 3000"
        await pilot.press("escape")
        assert isinstance(app.screen, HomeScreen)
        await pilot.press("c")
        area = app.screen.query_one("#text", TextArea)
        assert area.text == "draft"
        area.text = "x" * 3001
        await pilot.pause()
        assert app.screen.query_one("#count").has_class("over")
        monkeypatch.setattr(compose_module, "edit_text", lambda text: "from the editor\n")
        monkeypatch.setattr(app, "suspend", contextlib.nullcontext)  # headless: no terminal
        await pilot.press("ctrl+o")
        assert area.text == "from the editor"
        await pilot.press("ctrl+t", *"spoilers", "ctrl+s")
        await until(pilot, lambda: isinstance(app.screen, HomeScreen), what="sent")
    entry = (await node.service.log(limit=1)).entries[0]
    assert entry.text == "from the editor\n".strip()
    assert entry.content is not None and entry.content["cw"] == "spoilers"


@pytest.mark.asyncio
async def test_an_empty_post_is_refused_in_place(node: Node) -> None:
    app = app_for(node)
    async with app.run_test(size=SIZE) as pilot:
        await rows_of(pilot, app)
        await pilot.press("c", "ctrl+s")
        assert isinstance(app.screen, ComposeScreen)


@pytest.mark.asyncio
async def test_content_warning_folds_until_z(node: Node, world: World) -> None:
    app = app_for(node)
    async with app.run_test(size=SIZE) as pilot:
        post_list = await rows_of(pilot, app)
        select(post_list, world.alice_cw.hash.hex())
        row = post_list.current
        assert row is not None and not row.opened
        screen_text = screen_lines(post_list)
        assert "film spoilers" in screen_text and "the ending of the film" not in screen_text
        await pilot.press("z")
        assert row.opened
        assert "the ending of the film" in screen_lines(post_list)


@pytest.mark.asyncio
async def test_profile_shows_the_feed_and_toggles_follow_and_mute(node: Node,
                                                                 tmp_path: Path) -> None:
    settings = tmp_path / "ui.json"
    app = app_for(node, settings)
    async with app.run_test(size=SIZE) as pilot:
        post_list = await rows_of(pilot, app)
        post_list.select(next(i for i, r in enumerate(post_list.rows)
                              if r.post.author == ALICE.handle))
        await pilot.press("p")
        screen = app.screen
        assert isinstance(screen, ProfileScreen)
        await until(pilot, lambda: screen.feed is not None and screen.post_list.rows,
                    what="profile")
        card = static_text(app, "#card")
        assert "Alice" in card and ALICE.handle in card and "#gardens" in card
        assert "the whole feed is held here" in card and "following" in card
        assert {r.post.author for r in screen.post_list.rows} == {ALICE.handle}
        await pilot.press("F")
        await until(pilot, lambda: ALICE.handle not in app.state.following, what="unfollow")
        await until(pilot, lambda: "not following" in static_text(app, "#card"),
                    what="card updated")
        await pilot.press("M")
        assert ALICE.handle in app.state.muted
        assert ALICE.handle in settings.read_text()
        await pilot.press("y")
        assert app.clipboard == ALICE.handle


@pytest.mark.asyncio
async def test_delete_asks_first_and_only_for_my_posts(node: Node, world: World) -> None:
    app = app_for(node)
    async with app.run_test(size=SIZE) as pilot:
        post_list = await rows_of(pilot, app)
        select(post_list, world.alice_post.hash.hex())
        await pilot.press("D")
        assert isinstance(app.screen, HomeScreen)  # not mine: refused with a notice
        select(post_list, world.my_post.hash.hex())
        await pilot.press("D")
        assert isinstance(app.screen, ConfirmDialog)
        await pilot.press("y")
        target = world.my_post.hash.hex()
        await until(pilot, lambda: any(r.post.hash == target and r.post.deleted
                                       for r in post_list.rows) or not any(
            r.post.hash == target for r in post_list.rows), what="deleted")
    assert (await node.service.log(limit=1)).entries[0].type == "delete"


@pytest.mark.asyncio
async def test_me_shows_handle_and_qr_and_edits_the_profile(node: Node) -> None:
    app = app_for(node)
    async with app.run_test(size=SIZE) as pilot:
        await rows_of(pilot, app)
        await pilot.press("3")
        assert isinstance(app.screen, MeScreen)
        await until(pilot, lambda: ME.handle in static_text(app, "#who"), what="handle")
        assert "▀" in static_text(app, "#qr")
        assert "offline" in static_text(app, "#addresses")
        await pilot.press("y")
        assert app.clipboard == ME.handle
        await pilot.press("e")
        assert isinstance(app.screen, AboutDialog)
        name = app.screen.query_one("#name", Input)
        name.value = "Renamed"
        await pilot.press("ctrl+s")
        await until(pilot, lambda: app.state.my_name == "Renamed", what="renamed")
        await until(pilot, lambda: "Renamed" in static_text(app, "#who"), what="shown")


@pytest.mark.asyncio
async def test_network_says_offline_and_lists_held_feeds(node: Node) -> None:
    app = app_for(node)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("4")
        assert isinstance(app.screen, NetworkScreen)
        table = app.screen.query_one("#feeds", DataTable)
        await until(pilot, lambda: table.row_count == 4, what="feeds")
        assert "Offline" in static_text(app, "#banners")
        assert app.state.network == "offline"


@pytest.mark.asyncio
async def test_help_lists_every_key_of_the_screen_it_covers(node: Node) -> None:
    app = app_for(node)
    async with app.run_test(size=SIZE) as pilot:
        await rows_of(pilot, app)
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        text = static_text(app, "#help-keys")
        for expected in ("Home timeline", "Write a new post", "Next post",
                         *(help_ for _, _, _, help_ in ROW_ACTIONS), "Find", "Quit"):
            assert expected in text, expected
        await pilot.press("escape")
        assert isinstance(app.screen, HomeScreen)


@pytest.mark.asyncio
async def test_follow_dialog_finds_names_and_refuses_nonsense(node: Node) -> None:
    app = app_for(node)
    async with app.run_test(size=SIZE) as pilot:
        await rows_of(pilot, app)
        await pilot.press("plus")
        dialog = app.screen
        assert isinstance(dialog, FollowDialog)
        await pilot.press(*"caro")
        matches = dialog.query_one("#matches")
        await until(pilot, lambda: matches.display, what="name matches")
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, HomeScreen), what="followed")
        assert len(app.state.following) == 3
        await pilot.press("plus", *"zzzz", "enter")
        assert isinstance(app.screen, FollowDialog)
        await pilot.press("escape")
        assert isinstance(app.screen, HomeScreen)


@pytest.mark.asyncio
async def test_find_moves_to_matching_posts(node: Node, world: World) -> None:
    app = app_for(node)
    async with app.run_test(size=SIZE) as pilot:
        post_list = await rows_of(pilot, app)
        await pilot.press("ctrl+f", *"garden", "enter")
        assert post_list.current is not None
        assert "garden" in (post_list.current.post.text or "")
        first = post_list.cursor
        await pilot.press("n")
        assert post_list.cursor != first
        assert "garden" in (post_list.current.post.text or "")


@pytest.mark.asyncio
async def test_q_goes_back_then_quits(node: Node) -> None:
    app = app_for(node)
    async with app.run_test(size=SIZE) as pilot:
        await rows_of(pilot, app)
        await pilot.press("3")
        await pilot.press("q")
        assert isinstance(app.screen, HomeScreen)
        await pilot.press("q")  # another screen was opened: it asks first
        assert isinstance(app.screen, ConfirmDialog)
        await pilot.press("y")
        await pilot.pause()
    assert app.return_code == 0
