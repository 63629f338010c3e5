"""The Messages screen and a conversation (issue 12, the UI): the list with requests apart,
open (marks read), send, accept, decline, live arrival and the unread badge in the tab bar;
one 80x24 snapshot per new screen. Messages arrive as the mail client admits them: stored in
the node's inbox, then `mail` published on its hub."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

import pytest
from textual import events
from textual.widgets import Footer, Input, Static
from textual.widgets._footer import FooterKey

from p2psocial.core.identity import Identity
from p2psocial.core.limits import MAX_POST_CHARS
from p2psocial.core.mail.inner import InnerMessage, Kind, make_inner
from p2psocial.runtime.node import Node
from p2psocial.store.home import Home
from p2psocial.store.sqlite import Store
from p2psocial.ui.app import SocialApp
from p2psocial.ui.conversation import ConversationScreen
from p2psocial.ui.home import HomeScreen
from p2psocial.ui.launch import open_in_process
from p2psocial.ui.mail import ConversationList, MessagesScreen
from p2psocial.ui.widgets import TopBar

from .conftest import ALICE, CAROL, ME, SIZE, World, app_for, build_home_sync, until
from .test_fit import footer_problems, top_bar_problems

OLD_TS = 1_704_067_200_000  # 2024-01-01: shown as a date, so snapshots do not drift
arrivals = iter(range(1_000, 10_000_000, 1_000))


def message(writer: Identity, text: str, to: Identity = ME, ts: int = OLD_TS) -> InnerMessage:
    return make_inner(writer, account=writer.public_key, to=[to.public_key],
                      msg_id=os.urandom(16), ts=ts, kind=Kind.TEXT, text=text)


async def arrive(node: Node, *messages: InnerMessage) -> None:
    """Admit messages into the node's inbox and publish them, as the mail client does."""
    for m in messages:
        assert await node.store.inbox.add(m, next(arrivals))
        node.hub.publish("mail", {"conversation": m.conversation.hex(),
                                  "from": ALICE.handle, "kind": m.kind.value})


def tab_bar(app: SocialApp) -> str:
    return str(app.screen.query_one(TopBar).render())


def listed(app: SocialApp) -> list[str]:
    """The list's lines as shown (headings included), [] before it has loaded."""
    if not isinstance(app.screen, MessagesScreen):
        return []
    listing = app.screen.query_one(ConversationList)
    return [str(listing.get_option_at_index(i).prompt).split("\n")[0]
            for i in range(listing.option_count)]


def shown_text(app: SocialApp) -> str:
    if not isinstance(app.screen, ConversationScreen):
        return ""
    return str(app.screen.query_one("#message-text", Static).render())


async def messages_open(pilot: Any, app: SocialApp, lines: int) -> None:
    await until(pilot, lambda: isinstance(app.screen, HomeScreen), what="home")
    await pilot.press("5")
    await until(pilot, lambda: len(listed(app)) == lines, what=f"{lines} lines listed")


async def write_to(pilot: Any, app: SocialApp, handle: str) -> None:
    """w, then the handle (set at once: 52 key presses are slow), then enter."""
    await pilot.press("w")
    await until(pilot, lambda: app.screen.query("#write-to"), what="the dialog")
    app.screen.query_one("#write-to", Input).value = handle
    await pilot.press("enter")


def footer_labels(app: SocialApp) -> list[str]:
    return [str(key.description) for footer in app.screen.query(Footer)
            for key in footer.query(FooterKey) if key.display]


def pick(app: SocialApp, starts: str) -> None:
    listing = app.screen.query_one(ConversationList)
    listing.highlighted = next(i for i, line in enumerate(listed(app))
                               if line.startswith(starts))


@pytest.mark.asyncio
async def test_the_list_shows_requests_apart_with_unread_counts(node: Node) -> None:
    await arrive(node, message(ALICE, "hi, it is alice"), message(ALICE, "are you there?"),
                 message(CAROL, "hello stranger"))
    app = app_for(node)
    async with app.run_test(size=SIZE) as pilot:
        await messages_open(pilot, app, 4)
        assert listed(app) == ["Requests (1): a accepts, d declines", "Carol  •1",
                               "Conversations", "Alice  •2"]
        listing = app.screen.query_one(ConversationList)
        assert "are you there?" in str(listing.get_option_at_index(3).prompt)


@pytest.mark.asyncio
async def test_open_marks_read_and_enter_sends(node: Node) -> None:
    await arrive(node, message(ALICE, "hi, it is alice"))
    app = app_for(node)
    async with app.run_test(size=SIZE) as pilot:
        await messages_open(pilot, app, 1)
        await until(pilot, lambda: app.state.mail_unread == 1, what="the badge")
        await pilot.press("enter")
        await until(pilot, lambda: "hi, it is alice" in shown_text(app), what="the message")
        await until(pilot, lambda: app.state.mail_unread == 0, what="read")
        assert [v.unread for v in await node.service.inbox()] == [0]
        await pilot.press("enter")  # an empty line: one notification, nothing sent
        await pilot.pause(0.1)
        assert [n.message for n in app._notifications] == [
            "the message is empty: write something first"]
        await pilot.press(*"hello alice", "enter")
        await until(pilot, lambda: "hello alice" in shown_text(app), what="my message")
        assert shown_text(app).index("hi, it is alice") < shown_text(app).index("you")
        assert app.screen.query_one("#compose-message", Input).value == ""
        conv = (await node.service.inbox())[0]
        assert conv.last is not None and conv.last.mine and conv.last.text == "hello alice"


@pytest.mark.asyncio
async def test_whom_to_write_to_is_checked_before_the_message_is_written(node: Node) -> None:
    """The dialog took anything, and the refusal came only after a message was typed."""
    app = app_for(node)
    async with app.run_test(size=SIZE) as pilot:
        await messages_open(pilot, app, 0)
        await write_to(pilot, app, ME.handle)
        await until(pilot, lambda: app._notifications, what="the refusal")
        assert [n.message for n in app._notifications] == ["you cannot write only to yourself"]
        assert isinstance(app.screen, MessagesScreen)  # no conversation opened
        app.clear_notifications()
        await write_to(pilot, app, "Nobody")
        await until(pilot, lambda: app._notifications, what="the second refusal")
        [line] = [n.message for n in app._notifications]
        assert "'Nobody' is not a handle" in line and isinstance(app.screen, MessagesScreen)


@pytest.mark.asyncio
async def test_a_refused_message_is_one_line_and_the_text_stays(node: Node) -> None:
    """A paste past the limit was cut to it by the input and sent: now it is refused and
    stays whole in the line, to be shortened."""
    app = app_for(node)
    too_long = "x" * (MAX_POST_CHARS + 1)
    async with app.run_test(size=SIZE) as pilot:
        await messages_open(pilot, app, 0)
        await write_to(pilot, app, ALICE.handle)
        await until(pilot, lambda: isinstance(app.screen, ConversationScreen), what="opened")
        field = app.screen.query_one("#compose-message", Input)
        field.post_message(events.Paste(too_long))  # a paste, as a terminal sends it
        await pilot.pause()
        await pilot.press("enter")
        await until(pilot, lambda: app._notifications, what="the refusal")
        assert [n.message for n in app._notifications] == [
            f"the message has {MAX_POST_CHARS + 1:,} characters; at most "
            f"{MAX_POST_CHARS:,} fit: shorten it"]
        assert app.screen.query_one("#compose-message", Input).value == too_long
        assert await node.service.inbox() == []  # nothing sent


@pytest.mark.asyncio
async def test_write_to_someone_new(node: Node) -> None:
    app = app_for(node)
    async with app.run_test(size=SIZE) as pilot:
        await messages_open(pilot, app, 0)
        await write_to(pilot, app, ALICE.handle)
        await until(pilot, lambda: isinstance(app.screen, ConversationScreen), what="opened")
        await pilot.press(*"first words", "enter")
        await until(pilot, lambda: "first words" in shown_text(app), what="sent")
        await pilot.press("escape")
        await until(pilot, lambda: listed(app) == ["Alice"], what="listed")


@pytest.mark.asyncio
async def test_a_accepts_a_request(node: Node) -> None:
    await arrive(node, message(CAROL, "hello stranger"))
    app = app_for(node)
    async with app.run_test(size=SIZE) as pilot:
        await messages_open(pilot, app, 2)
        assert {"Accept", "Decline"} <= set(footer_labels(app))
        pick(app, "Carol")
        await pilot.press("a")
        await until(pilot, lambda: listed(app) == ["Carol  •1"], what="accepted")
        assert [v.state for v in await node.service.inbox()] == ["accepted"]
        # no request left: the footer offered Accept and Decline still (helper walk)
        await until(pilot, lambda: not {"Accept", "Decline"} & set(footer_labels(app)),
                    what="accept and decline gone")


@pytest.mark.asyncio
async def test_d_declines_a_request_after_asking(node: Node) -> None:
    await arrive(node, message(CAROL, "hello stranger"), message(ALICE, "hi, it is alice"))
    app = app_for(node)
    async with app.run_test(size=SIZE) as pilot:
        await messages_open(pilot, app, 4)
        pick(app, "Alice")
        await pilot.press("d")  # not a request: one line, nothing deleted
        await pilot.pause(0.1)
        assert len(await node.service.inbox()) == 2
        pick(app, "Carol")
        await pilot.press("d")
        await pilot.press("y")
        await until(pilot, lambda: listed(app) == ["Alice  •1"], what="declined")
        assert [v.participants for v in await node.service.inbox()] == [[ALICE.handle]]


@pytest.mark.asyncio
async def test_a_new_message_counts_in_the_tab_bar_and_shows_live(node: Node) -> None:
    app = app_for(node)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: isinstance(app.screen, HomeScreen), what="home")
        await pilot.pause(0.2)
        assert "•" not in tab_bar(app)
        await arrive(node, message(ALICE, "are you there?"))
        await until(pilot, lambda: "Msgs •1" in tab_bar(app) or "Messages •1" in tab_bar(app),
                    what="the badge on home")
        await pilot.press("5")
        await until(pilot, lambda: listed(app) == ["Alice  •1"], what="listed")
        await arrive(node, message(ALICE, "hello?"))
        await until(pilot, lambda: listed(app) == ["Alice  •2"], what="the list live")
        await pilot.press("enter")
        await until(pilot, lambda: "hello?" in shown_text(app), what="opened")
        await until(pilot, lambda: "•" not in tab_bar(app), what="the badge gone")
        await arrive(node, message(ALICE, "third one, live"))
        await until(pilot, lambda: "third one, live" in shown_text(app), what="live arrival")
        await until(pilot, lambda: app.state.mail_unread == 0, what="read while open")
        assert [v.unread for v in await node.service.inbox()] == [0]


@pytest.mark.asyncio
@pytest.mark.parametrize("width", [80, 60])
async def test_the_messages_screens_keys_and_tabs_are_never_cut(node: Node, width: int) -> None:
    await arrive(node, message(ALICE, "hi, it is alice"))
    app = app_for(node)
    async with app.run_test(size=(width, 24)) as pilot:
        await messages_open(pilot, app, 1)
        await pilot.pause(0.1)
        problems = footer_problems(app) + top_bar_problems(app)
        keys = [await help_keys(pilot, app, "question_mark")]
        await pilot.press("enter")
        await until(pilot, lambda: "alice" in shown_text(app), what="opened")
        await pilot.pause(0.1)
        problems += footer_problems(app) + top_bar_problems(app)
        keys.append(await help_keys(pilot, app, "f1"))  # ? is text while writing
    assert problems == []
    assert "Messages: private" in keys[0] and "Accept the selected message request" in keys[0]
    assert "Decline the selected request" in keys[0] and "Write to someone" in keys[0]
    assert "Send the line written below" in keys[1] and "Scroll the messages up" in keys[1]


async def help_keys(pilot: Any, app: SocialApp, key: str) -> str:
    """The help screen's text, opened with `key` (and closed again)."""
    await pilot.press(key)
    await until(pilot, lambda: app.screen.query("#help-keys"), what="help")
    text = str(app.screen.query_one("#help-keys", Static).render())
    await pilot.press("escape")
    await until(pilot, lambda: not app.screen.query("#help-keys"), what="help closed")
    return text


# --- snapshots ------------------------------------------------------------------------------

def app_with_mail(tmp_path: Path, messages: list[tuple[InnerMessage, int]]) -> SocialApp:
    home = build_home_sync(tmp_path / "home", World())

    async def store_them(home: Home) -> None:
        store = await Store.open(home.database)
        try:
            for m, arrival in messages:
                await store.inbox.add(m, arrival)
        finally:
            await store.close()
    asyncio.run(store_them(home))
    return SocialApp(open_in_process(home, ME, offline=True),
                     settings_path=tmp_path / "home" / "ui.json")


def test_messages_snapshot(snap_compare: Any, tmp_path: Path) -> None:
    app = app_with_mail(tmp_path, [(message(ALICE, "see you at the garden on sunday"), 1),
                                   (message(CAROL, "hi! we met at the meetup"), 2)])

    async def listed_two(pilot: Any) -> None:
        await until(pilot, lambda: app.state.network == "offline", what="the status")
        await messages_open(pilot, app, 4)
        await pilot.pause(0.1)
    assert snap_compare(app, terminal_size=SIZE, run_before=listed_two)


def test_conversation_snapshot(snap_compare: Any, tmp_path: Path) -> None:
    app = app_with_mail(tmp_path, [
        (message(ALICE, "see you at the garden on sunday"), 1),
        (message(ME, "yes! I will bring the seedlings", to=ALICE), 2),
        (message(ALICE, "perfect, thanks"), 3)])

    async def opened(pilot: Any) -> None:
        await until(pilot, lambda: app.state.network == "offline", what="the status")
        await messages_open(pilot, app, 1)
        await pilot.press("enter")
        await until(pilot, lambda: "perfect" in shown_text(app), what="opened")
        await until(pilot, lambda: app.state.mail_unread == 0, what="read")
        await pilot.pause(0.1)
    assert snap_compare(app, terminal_size=SIZE, run_before=opened)
