"""A paste past a field's limit is refused whole, never cut: the inputs cut it silently to
their max_length before (a bio, a content warning, a private message), and the cut text was
saved or sent. Now sending or saving says how long it is, and the text stays to be edited."""

from __future__ import annotations

import pytest
from textual import events
from textual.widgets import Input, TextArea

from p2psocial.core import limits
from p2psocial.runtime.node import Node
from p2psocial.ui.compose import ComposeScreen
from p2psocial.ui.dialogs import AboutDialog

from .conftest import SIZE, app_for, until
from .test_screens import rows_of


async def paste(pilot: object, field: Input, text: str) -> None:
    """What a terminal's paste does: a Paste event to the focused field."""
    field.focus()
    field.post_message(events.Paste(text))
    await pilot.pause()  # type: ignore[attr-defined]


@pytest.mark.asyncio
async def test_a_bio_past_the_limit_is_refused_and_kept(node: Node) -> None:
    app = app_for(node)
    bio = "b" * (limits.MAX_BIO_CHARS + 1)
    async with app.run_test(size=SIZE) as pilot:
        await rows_of(pilot, app)
        await pilot.press("3", "e")
        await until(pilot, lambda: isinstance(app.screen, AboutDialog), what="the dialog")
        field = app.screen.query_one("#bio", Input)
        field.value = ""
        await paste(pilot, field, bio)
        await pilot.press("ctrl+s")
        await until(pilot, lambda: app._notifications, what="the refusal")
        assert [n.message for n in app._notifications] == [
            f"the bio is longer than {limits.MAX_BIO_CHARS} characters"]
        assert isinstance(app.screen, AboutDialog)
        assert app.screen.query_one("#bio", Input).value == bio


@pytest.mark.asyncio
async def test_a_content_warning_past_the_limit_is_refused_and_kept(node: Node) -> None:
    app = app_for(node)
    cw = "w" * (limits.MAX_CW_CHARS + 1)
    async with app.run_test(size=SIZE) as pilot:
        await rows_of(pilot, app)
        before = len(await node.service.timeline())
        await pilot.press("c")
        screen = app.screen
        assert isinstance(screen, ComposeScreen)
        screen.query_one("#text", TextArea).text = "a post under a long warning"
        await pilot.press("ctrl+t")
        await paste(pilot, screen.query_one("#cw", Input), cw)
        await pilot.press("ctrl+s")
        await until(pilot, lambda: app._notifications, what="the refusal")
        [line] = [n.message for n in app._notifications]
        assert "content warning is longer than" in line
        assert app.screen is screen and screen.query_one("#cw", Input).value == cw
        assert len(await node.service.timeline()) == before  # nothing posted
