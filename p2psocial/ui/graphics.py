"""Which widget draws pictures in this terminal: textual-image's, chosen once.

Rules:
- textual-image asks the terminal what it can draw (sixel, kitty graphics) when it is first
  imported, reading the answers from stdin. So only `detect` lets it ask, and launch calls
  it once the passphrase prompt is over and just before the app takes the terminal (keys
  typed ahead are dropped then anyway): asked any earlier, it would eat a passphrase typed
  ahead; asked later, Textual would read the answers as keys.
- Where the terminal can, pictures are drawn with kitty graphics or sixel; everywhere else
  (tmux among them) with colour half-blocks. Without `detect` (tests), or where the library
  cannot ask (stdin not a terminal; a terminal that reports no size), it asks nothing and
  pictures are half-blocks. P2PSOCIAL_IMAGES=halfcell|sixel|kitty overrides the choice.
- What the library logs while it asks goes to the log, never onto the terminal.
"""

from __future__ import annotations

import io
import logging
import os
import sys
import termios
from collections.abc import Callable

from textual.widget import Widget

IMAGES_ENV = "P2PSOCIAL_IMAGES"
Drawer = Callable[..., Widget]  # a textual-image widget class: (picture, classes=…)
LIBRARY = "textual_image.widget"


def detect() -> None:
    """Let textual-image ask the terminal what it can draw (see the module rules)."""
    if LIBRARY in sys.modules:
        return
    logging.getLogger("textual_image").addHandler(logging.NullHandler())
    if _stdin_is_terminal():
        try:
            import textual_image.widget  # noqa: F401  (asks the terminal)
        # its questions failed: no answer it expected (termios), a terminal of no size
        except (termios.error, OSError, ValueError, ZeroDivisionError):
            pass
        else:
            return
    _import_asking_nothing()


def renderer() -> Drawer:
    """The widget class that draws pictures here (see the module rules)."""
    if LIBRARY not in sys.modules:
        _import_asking_nothing()
    from textual_image.renderable import Image as Detected
    from textual_image.renderable import UnicodeImage
    from textual_image.widget import HalfcellImage, SixelImage, TGPImage
    from textual_image.widget import Image as DetectedImage

    chosen = os.environ.get(IMAGES_ENV, "").strip().lower()
    choices: dict[str, Drawer] = {"halfcell": HalfcellImage, "sixel": SixelImage,
                                  "kitty": TGPImage}
    if chosen in choices:
        return choices[chosen]
    if Detected is UnicodeImage:  # nothing was asked: half-blocks
        return HalfcellImage
    return DetectedImage


def _stdin_is_terminal() -> bool:
    stdin = sys.__stdin__
    try:
        return stdin is not None and stdin.isatty()
    except ValueError:  # closed
        return False


def _import_asking_nothing() -> None:
    """Import textual-image as if stdout were no terminal: it asks nothing."""
    logging.getLogger("textual_image").addHandler(logging.NullHandler())
    real, sys.__stdout__ = sys.__stdout__, io.StringIO()  # type: ignore[assignment,misc]
    try:
        import textual_image.widget  # noqa: F401
    finally:
        sys.__stdout__ = real  # type: ignore[misc]
