"""A QR code as terminal text: two modules per character cell with half blocks, drawn black
on white whatever the terminal's colours (scanners need dark modules on a light ground)."""

from __future__ import annotations

import segno
from rich.style import Style
from rich.text import Text

DARK = "#000000"
LIGHT = "#ffffff"
_STYLES = {(t, b): Style(color=DARK if t else LIGHT, bgcolor=DARK if b else LIGHT)
           for t in (False, True) for b in (False, True)}


def qr_matrix(data: str, border: int = 2) -> list[list[bool]]:
    """The modules of `data`'s QR code (True = dark), with a quiet zone of `border`."""
    code = segno.make(data, error="l", micro=False, boost_error=False)
    return [[bool(m) for m in row] for row in code.matrix_iter(scale=1, border=border)]


def qr_text(data: str, border: int = 2) -> Text:
    """The QR code of `data` as Rich Text, one line per two module rows."""
    rows = qr_matrix(data, border)
    if len(rows) % 2:
        rows.append([False] * len(rows[0]))
    out = Text(no_wrap=True)
    for y in range(0, len(rows), 2):
        if y:
            out.append("\n")
        for top, bottom in zip(rows[y], rows[y + 1], strict=True):
            out.append("▀", _STYLES[(top, bottom)])
    return out
