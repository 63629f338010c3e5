"""The follow dialog's focus (issue 9, item 10: "Dialog focus: ctrl+t toggles back; a
visible hint"): as in the compose dialog, ctrl+t goes from the name field to the names found
and back, and the help line says so where the eye is."""

from __future__ import annotations

import pytest
from textual.widgets import Input, OptionList, Static

from p2psocial.runtime.node import Node
from p2psocial.ui.follow import FollowDialog

from .conftest import SIZE, app_for, until
from .test_screens import rows_of


@pytest.mark.asyncio
async def test_ctrl_t_goes_to_the_names_found_and_back_with_a_hint(node: Node) -> None:
    app = app_for(node)
    async with app.run_test(size=SIZE) as pilot:
        await rows_of(pilot, app)
        await pilot.press("plus")
        dialog = app.screen
        assert isinstance(dialog, FollowDialog)
        field = dialog.query_one("#who", Input)
        matches = dialog.query_one("#matches", OptionList)
        hint = dialog.query_one("#follow-help", Static)
        assert field.has_focus
        await pilot.press(*"caro")
        await until(pilot, lambda: matches.display, what="name matches")
        assert "ctrl+t" in str(hint.render())  # the way to the names found
        await pilot.press("ctrl+t")
        assert matches.has_focus
        assert "ctrl+t" in str(hint.render())  # and the way back, shown while there
        assert "back" in str(hint.render())
        await pilot.press("ctrl+t")
        assert field.has_focus
        await pilot.press("down")  # ↓ still goes to the names found too
        assert matches.has_focus
        await pilot.press("ctrl+t")
        assert field.has_focus
        await pilot.press("x")  # typing goes on where it was
        assert field.value == "carox"
