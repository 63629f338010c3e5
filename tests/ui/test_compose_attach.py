"""Attaching pictures and files in compose (issue 13): ctrl+f's dialog adds them (a PNG made
with Pillow and a file), ctrl+r removes one, the dialog refuses in one line what cannot be
attached, a post sent with attachments is stored with them (in process, as a reply and a
quote, and attached to a node process over its control socket), a picture that does not
decode is the service's one line in compose with the draft and the files kept. A snapshot
at 80×24."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from textual import events
from textual.widgets import Input, Static, TextArea

from p2psocial.core import limits
from p2psocial.core.blobs import manifest_of
from p2psocial.runtime.control import ControlClient
from p2psocial.runtime.node import Node
from p2psocial.testing.nodes import NodeProcess
from p2psocial.ui.app import SocialApp
from p2psocial.ui.attach_dialog import AttachDialog
from p2psocial.ui.attach_files import DraftFile, check_file, complete_path
from p2psocial.ui.compose import ComposeScreen, FileList
from p2psocial.ui.home import HomeScreen
from p2psocial.ui.launch import attach

from .conftest import ME, SIZE, World, app_for, until
from .test_snapshots import app_on, timeline_loaded

ALT = "the river at dusk"


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    root = tmp_path / "files"
    root.mkdir()
    picture = root / "river.png"
    Image.new("RGB", (24, 12), (230, 120, 20)).save(picture)
    notes = root / "notes.txt"
    notes.write_text("notes for the walk\n" * 20)
    broken = root / "broken.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\nnot really a picture" * 4)
    empty = root / "empty.txt"
    empty.touch()
    big = root / "big.bin"
    with big.open("wb") as f:
        f.truncate(limits.MAX_BLOB_BYTES + 1)
    return {"picture": picture, "notes": notes, "broken": broken, "empty": empty,
            "big": big, "folder": root}


async def open_compose(pilot: Any, app: SocialApp) -> ComposeScreen:
    await until(pilot, lambda: isinstance(app.screen, HomeScreen), what="home")
    await pilot.press("c")
    await until(pilot, lambda: isinstance(app.screen, ComposeScreen), what="compose")
    assert isinstance(app.screen, ComposeScreen)
    return app.screen


async def add_file(pilot: Any, app: SocialApp, path: str, alt: str = "") -> AttachDialog:
    """ctrl+f, the path, enter (a bad path is said at once), the description, enter: the
    dialog (closed if it took the file)."""
    await pilot.press("ctrl+f")
    await until(pilot, lambda: isinstance(app.screen, AttachDialog), what="the dialog")
    dialog = app.screen
    assert isinstance(dialog, AttachDialog)
    dialog.query_one("#path", Input).value = path
    await pilot.press("enter")
    await until(pilot, lambda: dialog.line
                or dialog.focused is dialog.query_one("#alt", Input), what="the path taken")
    if dialog.line:
        assert dialog.focused is dialog.query_one("#path", Input)
        return dialog
    dialog.query_one("#alt", Input).value = alt
    await pilot.press("enter")
    await pilot.pause()
    return dialog


def listed(screen: ComposeScreen) -> list[str]:
    files = screen.query_one("#files", FileList)
    return [str(files.get_option_at_index(i).prompt) for i in range(files.option_count)]


async def type_text(pilot: Any, screen: ComposeScreen, text: str) -> None:
    screen.query_one("#text", TextArea).text = text
    await pilot.pause()


async def my_last_post(node: Node) -> Any:
    views = await node.service.posts(ME.handle, limit=1)
    return views[0]


@pytest.mark.asyncio
async def test_add_a_picture_and_a_file_then_remove_one(node: Node,
                                                        files: dict[str, Path]) -> None:
    app = app_for(node)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_compose(pilot, app)
        assert not screen.query_one("#files", FileList).display  # nothing listed yet
        await add_file(pilot, app, str(files["picture"]), ALT)
        await until(pilot, lambda: app.screen is screen, what="back in compose")
        await add_file(pilot, app, str(files["notes"]))
        await until(pilot, lambda: app.screen is screen, what="back in compose")
        lines = listed(screen)
        size = files["picture"].stat().st_size
        assert lines[0].startswith("▣ picture: river.png · ") and f"{size} B" in lines[0]
        assert lines[0].endswith(f"“{ALT}”")
        assert lines[1] == "▤ file: notes.txt · 380 B · no description"
        assert [f.alt for f in screen.files] == [ALT, None]
        assert screen.query_one("#text", TextArea).has_focus
        # the list: Tab moves to it, ↑ selects the picture, ctrl+r removes it
        await pilot.press("tab")
        await until(pilot, lambda: screen.query_one("#files", FileList).has_focus,
                    what="the list focused")
        await pilot.press("up", "ctrl+r")
        await pilot.pause()
        assert [f.name for f in screen.files] == ["notes.txt"]
        assert listed(screen) == ["▤ file: notes.txt · 380 B · no description"]
        await pilot.press("delete")  # delete on the list removes too
        await pilot.pause()
        assert screen.files == []
        assert not screen.query_one("#files", FileList).display
        assert screen.query_one("#text", TextArea).has_focus


@pytest.mark.asyncio
async def test_the_dialog_refuses_in_one_line(node: Node, files: dict[str, Path],
                                              tmp_path: Path) -> None:
    cases = [
        (str(tmp_path / "nowhere.png"), "", "does not exist"),
        (str(files["folder"]), "", "is a directory, not a file"),
        (str(files["empty"]), "", "is empty"),
        (str(files["big"]), "", "is 5.2 MB; the limit is 5 MiB a file"),
        (str(files["notes"]), "x" * (limits.MAX_ALT_CHARS + 1),
         f"the description is {limits.MAX_ALT_CHARS + 1} characters long; the limit is 1500"),
        ("", "", "type the path of a picture or a file"),
    ]
    app = app_for(node)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_compose(pilot, app)
        for path, alt, line in cases:
            dialog = await add_file(pilot, app, path, alt)
            assert app.screen is dialog, path  # still open, with what was typed
            assert line in dialog.line and "\n" not in dialog.line, (path, dialog.line)
            assert dialog.query_one("#path", Input).value == path
            await pilot.press("escape")
            await until(pilot, lambda: app.screen is screen, what="compose")
        assert screen.files == []
        # a 5th: said as soon as the dialog opens, and refused
        for _ in range(limits.MAX_ATTACHMENTS):
            await add_file(pilot, app, str(files["notes"]))
            await until(pilot, lambda: app.screen is screen, what="compose")
        assert len(listed(screen)) == limits.MAX_ATTACHMENTS
        await pilot.press("ctrl+f")
        await until(pilot, lambda: isinstance(app.screen, AttachDialog), what="the dialog")
        dialog = app.screen
        assert isinstance(dialog, AttachDialog)
        assert dialog.line == "a post holds at most 4 pictures or files: remove one first"
        dialog = await add_file(pilot, app, str(files["picture"]))
        assert app.screen is dialog
        assert dialog.line == "a post holds at most 4 pictures or files: remove one first"
        await pilot.press("escape")
        await until(pilot, lambda: app.screen is screen, what="compose")
        assert len(screen.files) == limits.MAX_ATTACHMENTS


@pytest.mark.asyncio
async def test_a_post_with_attachments_is_stored_with_them(node: Node, world: World,
                                                           files: dict[str, Path]) -> None:
    app = app_for(node)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_compose(pilot, app)
        await add_file(pilot, app, str(files["picture"]), ALT)
        await until(pilot, lambda: app.screen is screen, what="compose")
        await add_file(pilot, app, str(files["notes"]))
        await until(pilot, lambda: app.screen is screen, what="compose")
        await type_text(pilot, screen, "Golden hour")
        await pilot.press("ctrl+s")
        await until(pilot, lambda: isinstance(app.screen, HomeScreen), timeout=10,
                    what="the post sent")
        post = await my_last_post(node)
        assert post.text == "Golden hour"
        assert post.content["attachments"] == [
            {"blob": manifest_of(files["picture"].read_bytes()).id.hex(),
             "size": files["picture"].stat().st_size, "type": "image/png", "alt": ALT,
             "name": "river.png"},
            {"blob": manifest_of(files["notes"].read_bytes()).id.hex(), "size": 380,
             "type": "text/plain", "name": "notes.txt"}]
        # a reply keeps its parent and carries its file
        parent = (await node.service.entries([world.alice_post.hash.hex()]))[0]
        reply = ComposeScreen(reply_to=parent)
        app.push_screen(reply)
        await until(pilot, lambda: app.screen is reply and reply.is_mounted, what="reply")
        await add_file(pilot, app, str(files["picture"]), "again")
        await until(pilot, lambda: app.screen is reply, what="reply")
        await type_text(pilot, reply, "look")
        await pilot.press("ctrl+s")
        await until(pilot, lambda: reply.sent is not None, timeout=10, what="the reply sent")
        sent = await my_last_post(node)
        assert sent.content["parent"] == world.alice_post.hash.hex()
        assert [a["alt"] for a in sent.content["attachments"]] == ["again"]
        # a quote too
        quote = ComposeScreen(quote=parent)
        app.push_screen(quote)
        await until(pilot, lambda: app.screen is quote and quote.is_mounted, what="quote")
        await add_file(pilot, app, str(files["notes"]))
        await until(pilot, lambda: app.screen is quote, what="quote")
        await type_text(pilot, quote, "see this")
        await pilot.press("ctrl+s")
        await until(pilot, lambda: quote.sent is not None, timeout=10, what="the quote sent")
        sent = await my_last_post(node)
        assert sent.content["quote"] == world.alice_post.hash.hex()
        assert [a["name"] for a in sent.content["attachments"]] == ["notes.txt"]


@pytest.mark.asyncio
async def test_a_picture_that_does_not_decode_keeps_the_draft(node: Node,
                                                              files: dict[str, Path]) -> None:
    app = app_for(node)
    before = await my_last_post(node)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_compose(pilot, app)
        await add_file(pilot, app, str(files["notes"]))
        await until(pilot, lambda: app.screen is screen, what="compose")
        await add_file(pilot, app, str(files["broken"]), "a broken one")
        await until(pilot, lambda: app.screen is screen, what="compose")
        await type_text(pilot, screen, "this will not go")
        await pilot.press("ctrl+s")
        error = screen.query_one("#compose-error", Static)
        await until(pilot, lambda: error.display, timeout=10, what="the refusal")
        line = str(error.render())
        assert line.startswith("broken.png is not an image that can be read (")
        assert line.endswith("): nothing was posted") and "\n" not in line
        assert app.screen is screen
        assert screen.query_one("#text", TextArea).text == "this will not go"
        assert [f.name for f in screen.files] == ["notes.txt", "broken.png"]
        assert len(listed(screen)) == 2
    assert (await my_last_post(node)).hash == before.hash


@pytest.mark.asyncio
async def test_escape_keeps_the_files_with_the_draft(node: Node, files: dict[str, Path]) -> None:
    app = app_for(node)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_compose(pilot, app)
        await add_file(pilot, app, str(files["notes"]), "the notes")
        await until(pilot, lambda: app.screen is screen, what="compose")
        await pilot.press("escape")
        again = await open_compose(pilot, app)
        assert [(f.name, f.alt) for f in again.files] == [("notes.txt", "the notes")]
        assert listed(again) == ["▤ file: notes.txt · 380 B · “the notes”"]


def test_paths_complete_and_expand(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "river.png").write_bytes(b"x")
    (tmp_path / "rivers").mkdir()
    (tmp_path / ".hidden").write_bytes(b"x")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert complete_path("~/riv") == ("~/river", ["river.png", "rivers/"])
    assert complete_path("~/river.") == ("~/river.png", ["river.png"])
    assert complete_path("~/rivers") == ("~/rivers/", ["rivers/"])
    assert complete_path("~/zz") == ("~/zz", [])
    assert complete_path("~/.h") == ("~/.hidden", [".hidden"])
    item = check_file("~/river.png", "  ", 0)
    assert item == DraftFile(str(tmp_path / "river.png"), "river.png", 1, "image/png", None)
    monkeypatch.chdir(tmp_path)
    assert check_file("river.png", "", 3).path == str(tmp_path / "river.png")


@pytest.fixture
def running(tmp_path: Path) -> Iterator[NodeProcess]:
    node = NodeProcess.create(tmp_path / "home", name="Poster")
    node.start(extra=["--offline"])
    try:
        yield node
    finally:
        node.stop()


@pytest.mark.slow
@pytest.mark.asyncio
async def test_attached_app_posts_attachments_through_the_node(
        running: NodeProcess, files: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(files["folder"])  # a relative path: the node gets it absolute
    app = SocialApp(attach(running.home / "node.sock"))
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_compose(pilot, app)
        await add_file(pilot, app, "river.png", ALT)
        await until(pilot, lambda: app.screen is screen, what="compose")
        await type_text(pilot, screen, "from the UI, through the node")
        await pilot.press("ctrl+s")
        await until(pilot, lambda: isinstance(app.screen, HomeScreen), timeout=15,
                    what="the post sent")
    client = await ControlClient.open(running.home / "node.sock")
    try:
        [post] = [e for e in (await client.log(limit=1)).entries if e.type == "post"]
    finally:
        await client.close()
    assert post.content["attachments"] == [
        {"blob": manifest_of(files["picture"].read_bytes()).id.hex(),
         "size": files["picture"].stat().st_size, "type": "image/png", "alt": ALT,
         "name": "river.png"}]


def test_compose_with_two_attachments(snap_compare: Any, tmp_path: Path) -> None:
    root = tmp_path / "files"
    root.mkdir()
    (root / "golden-hour.jpg").write_bytes(b"j" * 1_834_000)
    (root / "walk-notes.pdf").write_bytes(b"p" * 48_200)

    async def two_files(pilot: Any) -> None:
        app = pilot.app
        await timeline_loaded(pilot)
        screen = await open_compose(pilot, app)
        await type_text(pilot, screen, "Golden hour over the river. No filter. #photography")
        for name, alt in (("golden-hour.jpg", "the river at dusk, orange light on the water"),
                          ("walk-notes.pdf", "")):
            await add_file(pilot, app, str(root / name), alt)
            await until(pilot, lambda: app.screen is screen, what="compose")
        await until(pilot, lambda: len(listed(screen)) == 2, what="the list")
        area = screen.query_one("#text", TextArea)
        area.cursor_blink = False  # the cursor always drawn, at the end of the text
        area.move_cursor(area.document.end)
        await until(pilot, lambda: area.has_focus, what="the text focused")
        await pilot.pause(0.1)
    assert snap_compare(app_on(tmp_path), terminal_size=SIZE, run_before=two_files)


@pytest.mark.asyncio
async def test_help_lists_the_attach_keys(node: Node) -> None:
    app = app_for(node)
    async with app.run_test(size=SIZE) as pilot:
        await open_compose(pilot, app)
        await pilot.press("f1")
        await until(pilot, lambda: type(app.screen).__name__ == "HelpScreen", what="help")
        text = str(app.screen.query_one("#help-keys", Static).render())
        assert "ctrl+f   Attach a picture or a file (at most 4)" in text
        assert "ctrl+r   Remove the selected picture or file" in text
        assert "In the list of files attached" in text
        assert "delete backspace x   Remove the selected picture or file from the post" in text


@pytest.mark.asyncio
async def test_tab_completes_the_path_typed_just_before(node: Node, files: dict[str, Path],
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """Tab read in the same burst as the keys before it completes what they typed."""
    monkeypatch.chdir(files["folder"])
    app = app_for(node)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_compose(pilot, app)
        await pilot.press("ctrl+f")
        await until(pilot, lambda: isinstance(app.screen, AttachDialog), what="the dialog")
        dialog = app.screen
        assert isinstance(dialog, AttachDialog) and app._driver is not None
        for key in ("r", "i", "tab"):
            app._driver.send_message(events.Key(key, None if key == "tab" else key))
        field = dialog.query_one("#path", Input)
        await until(pilot, lambda: field.value == "river.png", what="the completion")
        await pilot.press("tab")  # complete already: on to the description
        await until(pilot, lambda: dialog.focused is dialog.query_one("#alt", Input),
                    what="the description")
        await pilot.press(*"dusk", "ctrl+s")
        await until(pilot, lambda: app.screen is screen, what="compose")
        assert [(f.name, f.alt) for f in screen.files] == [("river.png", "dusk")]
