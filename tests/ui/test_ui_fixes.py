"""The UI items of issue 9 (item 10) on a real node: dialog focus both ways, names that
change everywhere at once, a muted person's profile, leaving the app, the network screen's
actions."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from textual.binding import Binding
from textual.command import CommandPalette
from textual.widgets import DataTable, Input, Static, TextArea
from textual.widgets._footer import FooterKey

from p2psocial.runtime.node import Node
from p2psocial.runtime.views import FeedStatus, NodeStatus, PeerView
from p2psocial.testing import FeedBuilder, identity_for
from p2psocial.ui.compose import ComposeScreen
from p2psocial.ui.dialogs import ConfirmDialog, ConnectDialog
from p2psocial.ui.home import HomeScreen
from p2psocial.ui.network import (
    FEED_WIDTHS,
    PEER_WIDTHS,
    NetworkScreen,
    peer_cells,
    relay_handles,
    sync_text,
)
from p2psocial.ui.postlist import PostList
from p2psocial.ui.profile import ProfileScreen
from p2psocial.ui.widgets import TopBar

from .conftest import ALICE, BOB, CAROL, ME, SIZE, World, app_for, deliver, until
from .test_screens import rows_of


@pytest.mark.asyncio
async def test_ctrl_t_goes_to_the_warning_and_back_with_a_hint(node: Node) -> None:
    app = app_for(node)
    async with app.run_test(size=SIZE) as pilot:
        await rows_of(pilot, app)
        await pilot.press("c")
        screen = app.screen
        assert isinstance(screen, ComposeScreen)
        text, cw = screen.query_one("#text", TextArea), screen.query_one("#cw", Input)
        assert text.has_focus
        await pilot.press("ctrl+t")
        assert cw.has_focus and cw.display
        assert "ctrl+t" in str(cw.placeholder)  # the way back, where the eye is
        await pilot.press("ctrl+t")
        assert text.has_focus
        await pilot.press("ctrl+t")
        assert cw.has_focus


@pytest.mark.asyncio
async def test_a_muted_persons_profile_opens_with_their_posts_and_a_banner(
        node: Node, tmp_path: Path) -> None:
    app = app_for(node, tmp_path / "ui.json")
    async with app.run_test(size=SIZE) as pilot:
        await rows_of(pilot, app)
        app.state.set_muted(ALICE.handle, True)
        app.push_screen(ProfileScreen(ALICE.handle))
        screen = app.screen
        assert isinstance(screen, ProfileScreen)
        await until(pilot, lambda: screen.feed is not None and screen.post_list.rows,
                    what="alice's posts on her profile")
        assert {r.post.author for r in screen.post_list.rows} == {ALICE.handle}
        banner = screen.query_one("#muted-banner", Static)
        assert banner.display and "Muted" in str(banner.render())
        await pilot.press("M")  # unmute: the banner goes
        await until(pilot, lambda: not banner.display, what="banner gone")
        assert ALICE.handle not in app.state.muted


def lines_of(post_list: PostList) -> str:
    return "\n".join(post_list.render_line(y).text for y in range(post_list.size.height))


@pytest.mark.asyncio
async def test_a_new_name_shows_everywhere_at_once(node: Node, world: World) -> None:
    shared = FeedBuilder(ALICE, after=world.builders["alice"].last)
    shared.repost(world.bob_post)
    await deliver(node, shared.entries)
    app = app_for(node)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("2")  # every screen loaded before the names change
        notes = await rows_of(pilot, app)
        await until(pilot, lambda: "Bob mentioned" in lines_of(notes), what="notes")
        await pilot.press("4")
        network = app.screen
        await pilot.press("3")
        profile = ProfileScreen(BOB.handle)
        app.push_screen(profile)
        await until(pilot, lambda: profile.feed is not None, what="profile")
        await pilot.press("1")
        timeline = await rows_of(pilot, app)
        await until(pilot, lambda: "Alice reposted" in lines_of(timeline), what="repost")
        renamed = FeedBuilder(BOB, after=world.builders["bob"].last)
        renamed.about("Robert")
        alicia = FeedBuilder(ALICE, after=shared.last)
        alicia.about("Alicia")
        await deliver(node, renamed.entries + alicia.entries)
        await node.service.set_about("Renamed Me", None)
        await until(pilot, lambda: "Robert" in lines_of(timeline), what="Robert, home")
        await until(pilot, lambda: "Alicia reposted" in lines_of(timeline),
                    what="Alicia, home")
        assert "Bob" not in lines_of(timeline) and "Alice " not in lines_of(timeline)
        await pilot.press("2")
        await until(pilot, lambda: "Robert mentioned" in lines_of(notes),
                    what="Robert, notifications")
        assert "Bob" not in lines_of(notes)
        await pilot.press("4")
        table = network.query_one("#feeds", DataTable)

        def cells() -> str:
            return " ".join(str(table.get_row_at(i)) for i in range(table.row_count))
        await until(pilot, lambda: "Robert" in cells(), what="Robert, network")
        assert "Bob" not in cells()
        await pilot.press("3")
        await until(pilot, lambda: "Robert" in str(profile.query_one("#card", Static)
                                                   .render()), what="Robert, profile")
        for bar in app.screen.query(TopBar):
            assert "Renamed Me" in str(bar.render())


@pytest.mark.asyncio
async def test_q_quits_at_once_when_nothing_else_was_opened(node: Node) -> None:
    app = app_for(node)
    async with app.run_test(size=SIZE) as pilot:
        await rows_of(pilot, app)
        await pilot.press("q")
        await pilot.pause()
    assert app.return_code == 0


@pytest.mark.asyncio
async def test_q_asks_before_quitting_once_other_screens_were_opened(node: Node) -> None:
    app = app_for(node)
    async with app.run_test(size=SIZE) as pilot:
        await rows_of(pilot, app)
        await pilot.press("4", "1", "q")
        assert isinstance(app.screen, ConfirmDialog)
        await pilot.press("n")
        assert isinstance(app.screen, HomeScreen) and app.is_running
        await pilot.press("q", "y")
        await pilot.pause()
    assert app.return_code == 0


@pytest.mark.asyncio
async def test_the_q_goes_back_setting_never_quits_with_q(node: Node, tmp_path: Path) -> None:
    settings = tmp_path / "ui.json"
    settings.write_text(json.dumps({"q": "back"}))
    app = app_for(node, settings)
    async with app.run_test(size=SIZE) as pilot:
        await rows_of(pilot, app)
        await pilot.press("3", "q")
        assert isinstance(app.screen, HomeScreen)
        await pilot.press("q", "q")
        await pilot.pause()
        assert app.is_running and isinstance(app.screen, HomeScreen)
        footer = " ".join(f"{k.key_display} {k.description}"
                          for k in app.screen.query(FooterKey))
        assert "q Back" in footer and "Back/Quit" not in footer
        await pilot.press("question_mark")
        help_text = str(app.screen.query_one("#help-keys", Static).render())
        assert "ctrl+q" in help_text and "Setting" in help_text
        assert "Back; on the home timeline, quit" not in help_text
        await pilot.press("escape", "ctrl+q")
        await pilot.pause()
    assert app.return_code == 0


@pytest.mark.asyncio
async def test_the_q_setting_is_changed_from_the_palette_and_kept(node: Node,
                                                                  tmp_path: Path) -> None:
    settings = tmp_path / "ui.json"
    app = app_for(node, settings)
    async with app.run_test(size=SIZE) as pilot:
        await rows_of(pilot, app)
        await pilot.press("colon", *"q only goes back")
        await until(pilot, lambda: isinstance(app.screen, CommandPalette), what="palette")
        await pilot.pause(0.5)
        await pilot.press("enter")
        await until(pilot, lambda: not app.state.q_quits, what="setting changed")
        assert json.loads(settings.read_text())["q"] == "back"
        await pilot.press("colon", *"quit")
        await pilot.pause(0.5)
        await pilot.press("enter")
        await pilot.pause()
    assert app.return_code == 0


def select_row(table: DataTable[str], handle: str) -> None:
    index = next(i for i in range(table.row_count)
                 if table.coordinate_to_cell_key((i, 0)).row_key.value == handle)  # type: ignore[arg-type]
    table.move_cursor(row=index, animate=False)


@pytest.mark.asyncio
async def test_the_network_screen_acts_on_the_selected_feed(node: Node) -> None:
    app = app_for(node)
    async with app.run_test(size=SIZE) as pilot:
        await rows_of(pilot, app)
        await pilot.press("4")
        screen = app.screen
        assert isinstance(screen, NetworkScreen)
        table = screen.query_one("#feeds", DataTable)
        await until(pilot, lambda: table.row_count == 4, what="feeds")
        assert table.virtual_size.width <= table.scrollable_content_region.width  # fits 80
        select_row(table, ALICE.handle)
        await pilot.press("y")
        assert app.clipboard == ALICE.handle
        await pilot.press("F")
        await until(pilot, lambda: ALICE.handle not in app.state.following, what="unfollow")
        select_row(table, ALICE.handle)
        await pilot.press("F")
        await until(pilot, lambda: ALICE.handle in app.state.following, what="follow")
        select_row(table, ALICE.handle)
        await pilot.press("B")
        assert isinstance(app.screen, ConfirmDialog)
        await pilot.press("y")
        await until(pilot, lambda: ALICE.handle in app.state.blocked, what="block")
        select_row(table, ALICE.handle)
        await pilot.press("B")
        await until(pilot, lambda: ALICE.handle not in app.state.blocked, what="unblock")
        select_row(table, ALICE.handle)
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, ProfileScreen), what="profile")
        assert app.screen.handle == ALICE.handle  # type: ignore[attr-defined]
        await pilot.press("escape")
        await pilot.press("C")  # connect: offline, so the node says so in one line
        assert isinstance(app.screen, ConnectDialog)
        await pilot.press(*"/ip4/127.0.0.1/tcp/9/p2p/" + ALICE.handle, "enter")
        await until(pilot, lambda: any("offline" in n.message
                                       for n in app._notifications), what="offline")


def test_peer_rows_label_relays_and_fit_their_columns() -> None:
    relay, peer = BOB.handle, ALICE.handle
    status = NodeStatus(handle="me", listen=["/ip4/0.0.0.0/tcp/1"], peers=2, feeds=[],
                        relays=[{"addr": f"/ip4/203.0.113.9/tcp/4001/p2p/{relay}",
                                 "state": "reserved"}])
    peers = [PeerView(handle=relay, addr="/ip4/203.0.113.9/tcp/4001", kind="direct",
                      name="A relay with a very long name indeed"),
             PeerView(handle=peer, kind="relayed",
                      addr=f"/ip4/203.0.113.9/tcp/4001/p2p/{relay}/p2p-circuit/p2p/{peer}")]
    relays = relay_handles(status, peers)
    assert relays == {relay}
    rows = [peer_cells(p, relays) for p in peers]
    assert rows[0][0].endswith("relay") and "relay" not in rows[1][0]
    assert rows[0][2] == "203.0.113.9:4001" and rows[1][2].startswith("via ")
    assert all(len(c) <= w for row in rows for c, w in zip(row, PEER_WIDTHS, strict=True))
    published = PeerView(handle=CAROL.handle, addr="/ip4/127.0.0.1/tcp/9", kind="direct",
                         relay=True)  # a relay a followed feed publishes
    assert peer_cells(published, relays)[0] == f"⛬ relay …{CAROL.handle[-6:]}"
    assert sum(PEER_WIDTHS) + 2 * len(PEER_WIDTHS) <= 80 - 4  # padding, a scrollbar
    assert sum(FEED_WIDTHS) + 2 * len(FEED_WIDTHS) <= 80 - 4


def test_a_followed_feed_nothing_is_known_of_has_no_full_bar() -> None:
    assert sync_text(FeedStatus(author=ALICE.handle)) == "? not found yet"
    assert sync_text(FeedStatus(author=ME.handle, hop=0)) == "nothing posted yet"
    assert "100%" in sync_text(FeedStatus(author=ALICE.handle, lo=1, hi=5, best_known=5))


@pytest.mark.asyncio
async def test_a_followed_feed_none_of_which_is_held_is_listed(node: Node) -> None:
    nobody = identity_for("nobody-knows-me").handle
    await node.service.follow(nobody, unknown=True)
    app = app_for(node)
    async with app.run_test(size=SIZE) as pilot:
        await rows_of(pilot, app)
        await pilot.press("4")
        table = app.screen.query_one("#feeds", DataTable)
        await until(pilot, lambda: table.row_count == 5, what="the followed feed")
        select_row(table, nobody)
        row = table.get_row_at(table.cursor_row)
        assert row[1:4] == ["following", "none", "offline"]


@pytest.mark.asyncio
async def test_j_and_k_move_through_the_network_tables_and_tab_is_shown(node: Node) -> None:
    app = app_for(node)
    async with app.run_test(size=SIZE) as pilot:
        await rows_of(pilot, app)
        await pilot.press("4")
        screen = app.screen
        assert isinstance(screen, NetworkScreen)
        table = screen.query_one("#feeds", DataTable)
        await until(pilot, lambda: table.row_count == 4, what="feeds")
        table.focus()
        await pilot.pause()
        start = table.cursor_row
        await pilot.press("j", "j")
        assert table.cursor_row == start + 2
        await pilot.press("k")
        assert table.cursor_row == start + 1
        assert any(b.key == "tab" and b.show for b in screen.BINDINGS if isinstance(b, Binding))
