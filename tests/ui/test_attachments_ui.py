"""Pictures and files in the UI (issue 13, item 5): a line per attachment in every post row,
the picture screen (half-blocks here, alt text always, fetching, lines for what cannot be
shown), and o opening an attachment in the system viewer (a recording stub command, and once
a command that does not exist).

The home is real: my post's picture is attached through Service.post (a PNG made with
Pillow), Alice's blobs are real files in the home's blob store, her posts real signed
entries. Pictures are drawn with half-blocks (P2PSOCIAL_IMAGES), as in tmux."""

from __future__ import annotations

import asyncio
import shlex
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from PIL import Image

from p2psocial.core.content import Attachment
from p2psocial.core.errors import UsageError
from p2psocial.runtime.config import NodeConfig
from p2psocial.runtime.node import Node
from p2psocial.runtime.views import BlobView, EntryView
from p2psocial.store.blobs import BlobStore
from p2psocial.ui.app import SocialApp
from p2psocial.ui.attachments import attachments_of
from p2psocial.ui.backend import AttachedBackend, InProcessBackend
from p2psocial.ui.graphics import IMAGES_ENV
from p2psocial.ui.image_view import PictureScreen
from p2psocial.ui.launch import attach, open_in_process
from p2psocial.ui.postlist import PostList
from p2psocial.ui.profile import ProfileScreen
from p2psocial.ui.viewer import VIEWER_ENV
from p2psocial.ui.widgets import FitFooter

from .conftest import ALICE, ME, SIZE, World, fill, make_home, until

# textual-image 0.12 reads pixels with Pillow's getdata, deprecated since Pillow 12.1 (fixed
# upstream, lnqs/textual-image#106, not released yet)
pytestmark = pytest.mark.filterwarnings(
    "ignore:Image.Image.getdata is deprecated:DeprecationWarning")

ALT = "the river at dusk, orange light on the water"
NOT_HELD = "ab" * 32


@pytest.fixture(autouse=True)
def half_blocks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(IMAGES_ENV, "halfcell")


class Files:
    """The files posted, by name."""

    def __init__(self, root: Path) -> None:
        root.mkdir(parents=True, exist_ok=True)
        self.picture = root / "river.png"
        image = Image.new("RGB", (64, 32), (230, 120, 20))
        for x in range(64):
            for y in range(16, 32):
                image.putpixel((x, y), (20, 40, 160))
        image.save(self.picture)
        self.broken = root / "broken.png"
        self.broken.write_bytes(b"\x89PNG\r\n\x1a\nnot really a picture" * 4)
        self.notes = root / "notes.pdf"
        self.notes.write_bytes(b"%PDF-1.4 not much of a document\n" * 10)


def alice_posts(world: World, blobs: BlobStore, files: Files) -> None:
    """Alice's posts: a picture that does not decode, a file, a picture not held here."""
    broken = blobs.add_file(files.broken)
    notes = blobs.add_file(files.notes)
    alice = world.builders["alice"]
    alice.post("this one came out wrong", attachments=(
        Attachment(broken.id, broken.size, "image/png", alt="a broken picture"),))
    alice.post("my notes", attachments=(
        Attachment(notes.id, notes.size, "application/pdf", name="notes.pdf"),))
    alice.post("what happened next", cw="spoilers", attachments=(
        Attachment(notes.id, notes.size, "application/pdf", name="ending.pdf"),))
    alice.post("a picture from far away", attachments=(
        Attachment(bytes.fromhex(NOT_HELD), 1234, "image/jpeg", alt="far away"),))


@pytest_asyncio.fixture
async def pictures(tmp_path: Path) -> AsyncIterator[tuple[Node, Files]]:
    """An offline node whose timeline has my picture post on top, then Alice's three."""
    world = World()
    files = Files(tmp_path / "files")
    home = make_home(tmp_path / "home")
    alice_posts(world, BlobStore(home.blobs), files)
    await fill(home, world.raw())
    node = Node(home, ME, NodeConfig(), offline=True)
    await node.start()
    await node.service.post("two things", attach=[[str(files.picture), None],
                                                  [str(files.notes), "my notes"]])
    await node.service.post("Golden hour", attach=[[str(files.picture), ALT]])
    yield node, files
    await node.stop()


def app_on(node: Node, backend: InProcessBackend | None = None) -> SocialApp:
    chosen = backend or InProcessBackend(node, owns_node=False)

    async def opener() -> InProcessBackend:
        return chosen
    return SocialApp(opener)


async def timeline(pilot: Any) -> PostList:
    app = pilot.app
    await until(pilot, lambda: app.screen.query(PostList) and any(
        (r.post.text or "") == "Golden hour" for r in app.screen.query_one(PostList).rows),
        what="the timeline")
    return app.screen.query_one(PostList)  # type: ignore[no-any-return]


def select(post_list: PostList, text: str) -> None:
    post_list.select(next(i for i, r in enumerate(post_list.rows) if r.post.text == text))


def lines_of(post_list: PostList) -> list[str]:
    return [post_list.render_line(y).text for y in range(post_list.size.height)]


def footer_keys(app: SocialApp) -> list[str]:
    return [key.key for footer in app.screen.query(FitFooter) for key in footer.query("FooterKey")
            if key.display]


def notified(app: SocialApp, part: str) -> bool:
    return any(part in str(n.message) for n in app._notifications)


def recorder(tmp_path: Path) -> tuple[str, Path]:
    """A stand-in for the system viewer: it writes down the path it was given."""
    record = tmp_path / "opened.txt"
    script = tmp_path / "viewer.sh"
    script.write_text(f'printf "%s\\n" "$1" >> {shlex.quote(str(record))}\n')
    return f"sh {shlex.quote(str(script))}", record


async def picture_screen(pilot: Any, text: str) -> PictureScreen:
    post_list = await timeline(pilot)
    select(post_list, text)
    await pilot.press("v")
    await until(pilot, lambda: isinstance(pilot.app.screen, PictureScreen), what="picture")
    return pilot.app.screen  # type: ignore[no-any-return]


# --- rows --------------------------------------------------------------------------------

@pytest.mark.asyncio
async def test_post_rows_name_each_attachment_with_its_description(
        pictures: tuple[Node, Files]) -> None:
    node, files = pictures
    app = app_on(node)
    async with app.run_test(size=SIZE) as pilot:
        post_list = await timeline(pilot)
        await pilot.pause(0.1)
        shown = "\n".join(lines_of(post_list))
        assert "▣ picture: the river at dusk, orange light on the water" in shown
        assert "image/png, " in shown
        assert all(len(line) <= SIZE[0] for line in lines_of(post_list))
        texts = {r.post.text: "\n".join(s.text for s in post_list._lines(r))
                 for r in post_list.rows}
        broken, notes = (f.stat().st_size for f in (files.broken, files.notes))
        assert f"▣ picture: a broken picture · image/png, {broken} B" in texts[
            "this one came out wrong"]
        assert f"▤ file: notes.pdf · application/pdf, {notes} B" in texts["my notes"]
        assert "▣ picture: far away · image/jpeg, 1.2 kB" in texts["a picture from far away"]
        assert "picture" not in texts["hello from alice #gardens"]


@pytest.mark.asyncio
async def test_a_profile_shows_the_attachments_and_o_falls_through_on_rows_without(
        pictures: tuple[Node, Files]) -> None:
    """On a profile, o opens whom the account follows, except on a row with an attachment."""
    node, _ = pictures
    app = app_on(node)
    async with app.run_test(size=SIZE) as pilot:
        await timeline(pilot)
        app.push_screen(ProfileScreen(ALICE.handle))
        await until(pilot, lambda: isinstance(app.screen, ProfileScreen)
                    and app.screen.query(PostList)
                    and len(app.screen.query_one(PostList).rows) > 3, what="profile")
        post_list = app.screen.query_one(PostList)
        assert any("▤ file: notes.pdf" in "\n".join(s.text for s in post_list._lines(r))
                   for r in post_list.rows)
        select(post_list, "hello from alice #gardens")
        await pilot.pause(0.05)
        assert "v" not in app.screen.active_bindings
        assert app.screen.active_bindings["o"].binding.action == "people('following')"
        select(post_list, "my notes")
        await until(pilot, lambda: "v" in footer_keys(app), what="v in the footer")
        assert app.screen.active_bindings["o"].binding.action == "chosen('open_file')"
        select(post_list, "hello from alice #gardens")
        await pilot.press("o")
        await until(pilot, lambda: type(app.screen).__name__ == "PeopleScreen",
                    what="whom Alice follows")


@pytest.mark.asyncio
async def test_a_content_warning_folds_the_attachments_and_their_keys(
        pictures: tuple[Node, Files]) -> None:
    node, _ = pictures
    app = app_on(node)
    async with app.run_test(size=SIZE) as pilot:
        post_list = await timeline(pilot)
        select(post_list, "what happened next")
        row = post_list.current
        assert row is not None
        await pilot.pause(0.05)
        assert "ending.pdf" not in "\n".join(s.text for s in post_list._lines(row))
        assert "v" not in app.screen.active_bindings and "o" not in app.screen.active_bindings
        await pilot.press("z")
        await until(pilot, lambda: "v" in app.screen.active_bindings, what="v offered")
        assert "▤ file: ending.pdf" in "\n".join(s.text for s in post_list._lines(row))
        select(post_list, "hello from alice #gardens")  # no attachment: the keys go
        await until(pilot, lambda: "v" not in app.screen.active_bindings, what="v gone")


def test_help_lists_the_picture_keys() -> None:
    from p2psocial.ui.help import binding_rows
    rows = dict(binding_rows(PostList.BINDINGS))
    assert "picture" in rows["v"] and "system viewer" in rows["o"]


# --- the picture screen ------------------------------------------------------------------

@pytest.mark.asyncio
async def test_v_draws_the_picture_in_half_blocks_with_its_alt_text(
        pictures: tuple[Node, Files]) -> None:
    node, _ = pictures
    app = app_on(node)
    async with app.run_test(size=SIZE) as pilot:
        post_list = await timeline(pilot)
        select(post_list, "Golden hour")
        await until(pilot, lambda: "v" in footer_keys(app), what="v in the footer")
        screen = await picture_screen(pilot, "Golden hour")
        await until(pilot, lambda: screen.query(".picture"), what="the picture")
        assert screen.status == ""
        await pilot.pause(0.1)
        shown = app.export_screenshot()
        assert "▀" in shown
        assert ALT in str(screen.query_one("#picture-alt").render())
        assert "river.png · image/png" in str(screen.query_one("#picture-caption").render())
        assert "o" in footer_keys(app) and "escape" in footer_keys(app)
        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(app.screen, PictureScreen), what="closed")


@pytest.mark.asyncio
async def test_left_and_right_go_through_a_posts_attachments(
        pictures: tuple[Node, Files]) -> None:
    node, _ = pictures
    app = app_on(node)
    async with app.run_test(size=SIZE) as pilot:
        screen = await picture_screen(pilot, "two things")
        await until(pilot, lambda: screen.query(".picture"), what="the picture")
        assert "Picture 1/2" in str(screen.query_one("TopBar").render())
        assert "no description given" in str(screen.query_one("#picture-alt").render())
        assert "right" in footer_keys(app)
        await pilot.press("right")
        await until(pilot, lambda: "File 2/2" in str(screen.query_one("TopBar").render()),
                    what="the second")
        assert not screen.query(".picture") and "o opens it" in screen.status
        assert "my notes" in str(screen.query_one("#picture-alt").render())
        await pilot.press("right")
        await until(pilot, lambda: screen.query(".picture"), what="the first again")


@pytest.mark.asyncio
async def test_attached_to_a_running_node_the_picture_comes_over_its_socket(
        pictures: tuple[Node, Files]) -> None:
    node, _ = pictures
    app = SocialApp(attach(node.home.control_socket))
    async with app.run_test(size=SIZE) as pilot:
        screen = await picture_screen(pilot, "Golden hour")
        await until(pilot, lambda: screen.query(".picture"), what="the picture")
        assert app.state.mode == "attached"
    remote = await AttachedBackend.open(node.home.control_socket)
    local = InProcessBackend(node, owns_node=False)
    try:
        held = attachments_of(next(v for v in await local.timeline()
                                   if v.text == "Golden hour"))[0].blob
        assert await remote.blob_get(held) == await local.blob_get(held)
        with pytest.raises(UsageError, match="not held here"):
            await remote.blob_get(NOT_HELD)
    finally:
        await remote.close()


class HeldBack(InProcessBackend):
    """The node's own blob_get, answered only once `release` is set: the fetch from peers
    takes a while."""

    release: asyncio.Event

    async def blob_get(self, ref: str, out: str | None = None) -> BlobView:
        await self.release.wait()
        return await super().blob_get(ref, out)


@pytest.mark.asyncio
async def test_the_picture_screen_says_fetching_until_the_node_has_the_picture(
        pictures: tuple[Node, Files]) -> None:
    node, _ = pictures
    backend = HeldBack(node, owns_node=False)
    backend.release = asyncio.Event()
    app = app_on(node, backend)
    async with app.run_test(size=SIZE) as pilot:
        screen = await picture_screen(pilot, "Golden hour")
        await pilot.pause(0.1)
        assert screen.status == "fetching…"
        assert "fetching…" in str(screen.query_one("#picture-status").render())
        assert ALT in str(screen.query_one("#picture-alt").render())
        backend.release.set()
        await until(pilot, lambda: screen.query(".picture"), what="the picture")


@pytest.mark.asyncio
async def test_a_picture_not_held_offline_is_one_line_and_its_alt_text_stays(
        pictures: tuple[Node, Files]) -> None:
    node, _ = pictures
    app = app_on(node)
    async with app.run_test(size=SIZE) as pilot:
        screen = await picture_screen(pilot, "a picture from far away")
        await until(pilot, lambda: "not held here" in screen.status, what="the error")
        assert "\n" not in screen.status
        assert screen.query_one("#picture-status").has_class("-error")
        assert not screen.query(".picture")
        assert "far away" in str(screen.query_one("#picture-alt").render())


@pytest.mark.asyncio
async def test_a_picture_that_does_not_decode_is_one_line_and_its_alt_text_stays(
        pictures: tuple[Node, Files]) -> None:
    node, _ = pictures
    app = app_on(node)
    async with app.run_test(size=SIZE) as pilot:
        screen = await picture_screen(pilot, "this one came out wrong")
        await until(pilot, lambda: "cannot be shown" in screen.status, what="the error")
        assert "/" not in screen.status  # no file path of the home
        assert "\n" not in screen.status and not screen.query(".picture")
        assert "a broken picture" in str(screen.query_one("#picture-alt").render())


@pytest.mark.asyncio
async def test_a_file_shows_its_name_type_and_size_and_offers_o_only(
        pictures: tuple[Node, Files], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    node, files = pictures
    command, record = recorder(tmp_path)
    monkeypatch.setenv(VIEWER_ENV, command)
    app = app_on(node)
    async with app.run_test(size=SIZE) as pilot:
        screen = await picture_screen(pilot, "my notes")
        await pilot.pause(0.1)
        caption = str(screen.query_one("#picture-caption").render())
        assert "file · notes.pdf · application/pdf, 320 B" in caption
        assert "o opens it" in screen.status and not screen.query(".picture")
        assert set(footer_keys(app)) <= {"o", "escape", "question_mark", "q"}
        await pilot.press("o")
        await until(pilot, record.exists, what="the viewer")
        opened = Path(record.read_text().strip())
        assert opened.name == "notes.pdf"
        assert opened.read_bytes() == files.notes.read_bytes()
        await until(pilot, lambda: notified(app, "opened notes.pdf"), what="the notice")


# --- o: the system viewer ----------------------------------------------------------------

@pytest.mark.asyncio
async def test_o_on_a_row_opens_its_first_attachment_in_the_viewer(
        pictures: tuple[Node, Files], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    node, files = pictures
    command, record = recorder(tmp_path)
    monkeypatch.setenv(VIEWER_ENV, command)
    app = app_on(node)
    async with app.run_test(size=SIZE) as pilot:
        post_list = await timeline(pilot)
        select(post_list, "Golden hour")
        await pilot.press("o")
        await until(pilot, record.exists, what="the viewer")
        opened = Path(record.read_text().strip())
        assert opened.name == "river.png"
        assert opened.read_bytes() == files.picture.read_bytes()
        assert isinstance(app.screen.query_one(PostList), PostList)  # still on the timeline
        await until(pilot, lambda: notified(app, "opened river.png"), what="the notice")


@pytest.mark.asyncio
async def test_o_with_no_viewer_or_a_failing_one_is_one_line(
        pictures: tuple[Node, Files], monkeypatch: pytest.MonkeyPatch) -> None:
    node, _ = pictures
    monkeypatch.setenv(VIEWER_ENV, "/nonexistent/p2psocial-viewer")
    app = app_on(node)
    async with app.run_test(size=SIZE) as pilot:
        screen = await picture_screen(pilot, "Golden hour")
        await until(pilot, lambda: screen.query(".picture"), what="the picture")
        await pilot.press("o")
        await until(pilot, lambda: notified(
            app, "cannot open river.png: there is no /nonexistent/p2psocial-viewer here"),
            what="the line")
        monkeypatch.setenv(VIEWER_ENV, "false")
        await pilot.press("o")
        await until(pilot, lambda: notified(app, "false could not open river.png (exit "
                                                 "status 1)"), what="the failure")
        assert isinstance(app.screen, PictureScreen)
        for message in app._notifications:
            assert "\n" not in str(message.message) and "Traceback" not in str(message.message)


@pytest.mark.asyncio
async def test_o_on_a_picture_not_held_offline_says_so(
        pictures: tuple[Node, Files], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    node, _ = pictures
    command, record = recorder(tmp_path)
    monkeypatch.setenv(VIEWER_ENV, command)
    app = app_on(node)
    async with app.run_test(size=SIZE) as pilot:
        post_list = await timeline(pilot)
        select(post_list, "a picture from far away")
        await pilot.press("o")
        await until(pilot, lambda: notified(app, "not held here"), what="the line")
        assert not record.exists()


def test_malformed_attachments_are_left_out() -> None:
    view = EntryView(hash="00" * 32, author=ALICE.handle, seq=1, timestamp=0, type="post",
                     text="hi", content={"text": "hi", "attachments": [{"blob": "x"}, 5]})
    assert attachments_of(view) == []


# --- the snapshot ------------------------------------------------------------------------

def test_picture_screen_snapshot(snap_compare: Any, tmp_path: Path) -> None:
    """The picture screen at 80×24: caption, the picture in half-blocks, its alt text."""
    files = Files(tmp_path / "files")
    home = make_home(tmp_path / "home")

    async def build() -> None:
        await fill(home, World().raw())
        node = Node(home, ME, NodeConfig(), offline=True)
        await node.start()
        await node.service.post("Golden hour", attach=[[str(files.picture), ALT]])
        await node.stop()
    asyncio.run(build())

    async def open_picture(pilot: Any) -> None:
        screen = await picture_screen(pilot, "Golden hour")
        await until(pilot, lambda: screen.query(".picture"), what="the picture")
        await pilot.pause(0.1)
    app = SocialApp(open_in_process(home, ME, offline=True))
    assert snap_compare(app, terminal_size=SIZE, run_before=open_picture)
