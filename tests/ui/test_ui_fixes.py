"""The UI items of issue 9 (item 10) on a real node: dialog focus both ways, names that
change everywhere at once, a muted person's profile, leaving the app, the network screen's
actions."""

from __future__ import annotations

import pytest
from textual.widgets import Input, TextArea

from p2psocial.runtime.node import Node
from p2psocial.ui.compose import ComposeScreen

from .conftest import SIZE, app_for
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
