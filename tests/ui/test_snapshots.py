"""Snapshots of the key screens at 80×24 (few on purpose: they are costly to keep).

Update after an intended change with `pytest tests/ui/test_snapshots.py --snapshot-update`
and look at the SVGs in the report before committing them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from p2psocial.ui.app import SocialApp
from p2psocial.ui.launch import open_in_process
from p2psocial.ui.postlist import PostList

from .conftest import ME, SIZE, build_home_sync, until

# An invite token signed by ME with no relays: made once, kept literal so the Me screen is
# the same on every run (a new token carries a random nonce).
INVITE = ("p2ps:invite:GRjwDxohM6vgJVHwZYyqxRbAqwRC6Rr91PPDqwmmWe1EYukdUGjcGHQEtAScDtsm2vBCnU4s"
          "jJbvEt4eyczrQmJjU8Y8t1WttJnobtRPgzjEFE6zzyBmbBgNmSrYzSqMZSTBQveBQBQNYckz45fAv8iv7V8Q"
          "zwWj")


def app_on(tmp_path: Path) -> SocialApp:
    home = build_home_sync(tmp_path / "home")
    settings = tmp_path / "home" / "ui.json"
    settings.write_text(json.dumps({"muted": [], "invite": INVITE}))
    return SocialApp(open_in_process(home, ME, offline=True), settings_path=settings)


async def timeline_loaded(pilot: Any) -> None:
    app = pilot.app
    await until(pilot, lambda: app.screen.query(PostList) and
                len(app.screen.query_one(PostList).rows) == 6, what="timeline")
    await until(pilot, lambda: app.state.network == "offline", what="the status")
    await pilot.pause(0.1)


def test_home_timeline(snap_compare: Any, tmp_path: Path) -> None:
    async def with_footer(pilot: Any) -> None:
        await timeline_loaded(pilot)
        await until(pilot, lambda: len(pilot.app.screen.query("FooterKey")) == 8,
                    what="the footer's keys")
    assert snap_compare(app_on(tmp_path), terminal_size=SIZE, run_before=with_footer)


def test_thread(snap_compare: Any, tmp_path: Path) -> None:
    async def open_thread(pilot: Any) -> None:
        await timeline_loaded(pilot)
        post_list = pilot.app.screen.query_one(PostList)
        post_list.select(next(i for i, r in enumerate(post_list.rows)
                              if (r.post.text or "").startswith("thanks bob")))
        await pilot.press("enter")
        await until(pilot, lambda: len(pilot.app.screen.query_one(PostList).rows) == 3,
                    what="thread")
        await pilot.pause(0.1)
    assert snap_compare(app_on(tmp_path), terminal_size=SIZE, run_before=open_thread)


def test_me(snap_compare: Any, tmp_path: Path) -> None:
    async def open_me(pilot: Any) -> None:
        await timeline_loaded(pilot)
        await pilot.press("3")
        await until(pilot, lambda: ME.handle in str(pilot.app.screen.query_one("#who")
                                                    .render()), what="me")
        await pilot.pause(0.1)
    assert snap_compare(app_on(tmp_path), terminal_size=SIZE, run_before=open_me)


def test_me_with_devices(snap_compare: Any, tmp_path: Path) -> None:
    """A device of an account: the account's handle, its devices, how to pair one."""
    from .accounts_world import build_account_home_sync
    home = build_account_home_sync(tmp_path / "home")
    settings = tmp_path / "home" / "ui.json"
    settings.write_text(json.dumps({"muted": [], "invite": INVITE}))
    app = SocialApp(open_in_process(home, ME, offline=True), settings_path=settings)

    async def open_me(pilot: Any) -> None:
        await until(pilot, lambda: app.screen.query(PostList) and
                    len(app.screen.query_one(PostList).rows) == 4, what="timeline")
        await until(pilot, lambda: app.state.network == "offline", what="the status")
        await pilot.press("3")
        await until(pilot, lambda: "phone" in str(pilot.app.screen.query_one("#devices")
                                                  .render()), what="devices")
        await pilot.pause(0.1)
    assert snap_compare(app, terminal_size=SIZE, run_before=open_me)
