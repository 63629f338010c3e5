"""A dialog's question is shown whole at 80×24 and at 60 columns: a long question wraps
inside the box instead of being cut at its right edge (the follow dialog's "Follow it
anyway?" was cut off after "no posts, no profile", so the question was never seen)."""

from __future__ import annotations

import pytest
from textual.app import App
from textual.widgets import Label

from p2psocial.ui.dialogs import ConfirmDialog

QUESTION = ("Nothing here has ever seen 12D3KooW…xE3LHz: no posts, no profile, no mention, "
            "no peer. A mistyped handle follows nobody. Follow it anyway?")


@pytest.mark.asyncio
@pytest.mark.parametrize("size", [(80, 24), (60, 24)])
async def test_a_long_confirm_question_is_shown_whole(size: tuple[int, int]) -> None:
    app: App[None] = App()
    async with app.run_test(size=size) as pilot:
        app.push_screen(ConfirmDialog(QUESTION))
        await pilot.pause()
        title = app.screen.query_one(".dialog-title", Label)
        lines = [strip.text.strip() for strip in title.render_lines(title.region.reset_offset)]
        shown = " ".join(line for line in lines if line)
        assert shown == QUESTION, lines
        assert title.region.right <= size[0]
