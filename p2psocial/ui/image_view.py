"""The picture screen: a post's picture drawn in the terminal, its description always under it.

Rules:
- Pictures are drawn by textual-image: kitty graphics or sixel where the terminal can,
  colour half-blocks everywhere else (p2psocial.ui.graphics chooses).
- The blob is got in a worker: at once if held, else the node fetches it from peers
  ("fetching…" meanwhile); one that cannot be got (offline, nobody has it) is one line. It is
  decoded in a thread and shrunk to at most MAX_SIDE pixels a side; an image Pillow cannot
  read is one line. The alt text is shown whatever happens to the picture.
- A file that is not a picture shows its name, type and size, and o; nothing is fetched
  until o asks for it.
- o opens the attachment shown in the system viewer (p2psocial.ui.viewer); ← and → go
  through a post's attachments; esc closes.
"""

from __future__ import annotations

import asyncio
from typing import Any, ClassVar

from PIL import Image as PILImage
from PIL import UnidentifiedImageError
from rich.text import Text
from textual import work
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Container
from textual.widget import Widget
from textual.widgets import Static

from p2psocial.core.errors import P2PSocialError
from p2psocial.runtime.views import EntryView
from p2psocial.ui.attachments import AttachmentItem, attachments_of
from p2psocial.ui.base import Host, SocialScreen, node_call
from p2psocial.ui.graphics import renderer
from p2psocial.ui.viewer import open_attachment
from p2psocial.ui.widgets import FitFooter, TopBar

MAX_SIDE = 1600  # pixels: more than a terminal shows, even with graphics
MAX_PIXELS = 50_000_000  # a picture past this is not decoded (Pillow warns from ~89 M)


def decode(path: str) -> PILImage.Image | str:
    """The picture in the file at `path`, shrunk to MAX_SIDE; or the line that says why it
    cannot be shown."""
    try:
        with PILImage.open(path) as image:
            width, height = image.size
            if width * height > MAX_PIXELS:
                return f"the picture is too large to show ({width}×{height} pixels)"
            image.draft("RGB", (MAX_SIDE, MAX_SIDE))  # JPEG: decode at a smaller scale
            image.load()
            picture = image.convert("RGBA" if "A" in image.getbands() else "RGB")
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, EOFError,
            PILImage.DecompressionBombError) as exc:
        return f"the picture cannot be shown: it does not decode ({_reason(exc)})"
    picture.thumbnail((MAX_SIDE, MAX_SIDE))
    return picture


def _reason(exc: BaseException) -> str:
    if isinstance(exc, UnidentifiedImageError):  # its message names the blob's file
        return "not in an image format that can be read"
    text = " ".join(str(exc).split())
    return (text[:77] + "…" if len(text) > 78 else text) or type(exc).__name__


def open_externally(owner: Widget | App[Any], host: Host, item: AttachmentItem) -> None:
    """Open `item` in the system viewer, in a worker of `owner` (a widget or the app); how it
    went is a notification."""
    def opened(problem: str | None) -> None:
        if problem:
            owner.notify(problem, severity="error", timeout=8)
        else:
            owner.notify(f"opened {item.name or item.kind} in the system viewer", timeout=3)
    node_call(owner, host, lambda backend: open_attachment(backend, item), done=opened)


class PictureScreen(SocialScreen):
    """A post's pictures and files, one at a time."""

    CSS_PATH = "image_view.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("o", "open_file", "Viewer",
                tooltip="Open it in the system viewer (the command in P2PSOCIAL_OPEN if set)"),
        Binding("right,l", "step(1)", "Next",
                tooltip="The post's next picture or file (offered when it has several)"),
        Binding("left,h", "step(-1)", "Previous", show=False,
                tooltip="The post's previous picture or file"),
        Binding("escape", "close", "Close"),
    ]

    def __init__(self, post: EntryView, index: int = 0) -> None:
        super().__init__()
        self.post = post
        self.items = attachments_of(post)
        self.index = max(0, min(index, len(self.items) - 1))
        self.status = ""  # what the frame says in place of a picture ("" once drawn)

    @property
    def item(self) -> AttachmentItem | None:
        return self.items[self.index] if self.items else None

    def compose(self) -> ComposeResult:
        yield TopBar(str(self.app.current_mode), self._title())
        yield Static(id="picture-caption")
        with Container(id="picture-frame"):
            yield Static(id="picture-status")
        yield Static(id="picture-alt")
        yield FitFooter()

    def on_mount(self) -> None:
        super().on_mount()
        self._show()

    def _title(self) -> str:
        kind = self.item.kind.capitalize() if self.item else "Picture"
        return f"{kind} {self.index + 1}/{len(self.items)}" if len(self.items) > 1 else kind

    def _show(self) -> None:
        """Show the current attachment: its caption and description, then its picture."""
        for old in self.query(".picture"):
            old.remove()
        self.query_one(TopBar).set_title(self._title())
        item = self.item
        if item is None:
            self._say("this post has no pictures or files")
            return
        caption = f"{item.kind} · {item.name or item.blob[:16]} · {item.facts}"
        self.query_one("#picture-caption", Static).update(Text(caption))
        alt = Text(item.alt) if item.alt else Text("no description given", style="italic")
        self.query_one("#picture-alt", Static).update(alt)
        if item.is_picture:
            self._say("fetching…")
            self.load(item)
        else:
            self._say("not a picture: o opens it in the system viewer")

    def _say(self, line: str, *, error: bool = False) -> None:
        self.status = line
        status = self.query_one("#picture-status", Static)
        status.update(line)
        status.set_class(error, "-error")
        status.display = bool(line)

    @work(exclusive=True, group="picture")
    async def load(self, item: AttachmentItem) -> None:
        backend = await self.host.ready()
        try:
            view = await backend.blob_get(item.blob)
        except P2PSocialError as exc:
            self._say(str(exc), error=True)
            return
        picture = await asyncio.to_thread(decode, view.path)
        if item is not self.item:
            return
        if isinstance(picture, str):
            self._say(picture, error=True)
            return
        self._say("")
        await self.query_one("#picture-frame").mount(renderer()(picture, classes="picture"))

    def action_open_file(self) -> None:
        if self.item is not None:
            open_externally(self, self.host, self.item)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """← and → only where there is another attachment to go to."""
        return action != "step" or len(self.items) > 1

    def action_step(self, delta: int) -> None:
        if len(self.items) > 1:
            self.index = (self.index + delta) % len(self.items)
            self._show()

    def action_close(self) -> None:
        self.dismiss()
