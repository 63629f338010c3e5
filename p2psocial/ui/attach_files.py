"""Files a post being written will carry: checked when added, listed in compose.

Rules:
- A path is the user's text with ~ expanded, made absolute against this process's working
  directory (the node that posts it may run elsewhere, so it gets absolute paths only).
- `check_file` refuses in one line, before anything is posted: no path, a 5th attachment
  (limits.MAX_ATTACHMENTS), a path that does not exist, a directory or anything but a
  regular file, a file that cannot be read, an empty file, one over limits.MAX_BLOB_BYTES,
  a description over limits.MAX_ALT_CHARS. Whether a picture decodes is the service's check,
  when the post is sent.
- The kind (picture or file) and the type come from the file's name, as the service names
  them (runtime.service.attachments.media_type_of).
- `complete_path` completes the last part of a path from the directory's entries (the
  longest part all matches share; a single directory gains its "/").
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from rich.text import Text

from p2psocial.core import limits
from p2psocial.core.errors import UsageError
from p2psocial.runtime.service.attachments import file_name_of, media_type_of
from p2psocial.runtime.views import size_text
from p2psocial.store.blobs import shown
from p2psocial.ui.attachments import one_line

MAX_CHOICES = 200  # entries read from one directory when completing
LIST_ALT_CHARS = 60


@dataclass(frozen=True, slots=True)
class DraftFile:
    """One picture or file added to a post not sent yet."""

    path: str  # absolute
    name: str
    size: int
    type: str
    alt: str | None = None

    @property
    def kind(self) -> str:
        return "picture" if self.type.startswith("image/") else "file"

    def as_attach(self) -> list[str | None]:
        """What Service.post takes for it: [path, alt or None]."""
        return [self.path, self.alt]


def absolute(text: str) -> Path:
    """The path the user typed, with ~ expanded, made absolute."""
    return Path(os.path.abspath(Path(text).expanduser()))


def check_file(text: str, alt: str, count: int) -> DraftFile:
    """The file at `text` with description `alt`, as the (count+1)th attachment.

    Raises:
        UsageError: one line saying why it cannot be attached (see the module rules).
    """
    text = text.strip()
    if count >= limits.MAX_ATTACHMENTS:
        raise UsageError(f"a post holds at most {limits.MAX_ATTACHMENTS} pictures or files: "
                         "remove one first")
    if not text:
        raise UsageError("type the path of a picture or a file")
    if "\0" in text:
        raise UsageError("a file name cannot hold a NUL character")
    alt = alt.strip()
    if len(alt) > limits.MAX_ALT_CHARS:
        raise UsageError(f"the description is {len(alt)} characters long; the limit is "
                         f"{limits.MAX_ALT_CHARS}")
    path = absolute(text)
    try:
        info = path.stat()
    except FileNotFoundError:
        raise UsageError(f"{shown(text, 60)} does not exist") from None
    except (OSError, ValueError) as exc:
        raise UsageError(f"cannot read {shown(text, 60)}: "
                         f"{getattr(exc, 'strerror', None) or exc}") from None
    if path.is_dir():
        raise UsageError(f"{shown(text, 60)} is a directory, not a file")
    if not path.is_file():
        raise UsageError(f"{shown(text, 60)} is not a regular file")
    if not os.access(path, os.R_OK):
        raise UsageError(f"cannot read {shown(text, 60)}: permission denied")
    if info.st_size == 0:
        raise UsageError(f"{shown(text, 60)} is empty")
    if info.st_size > limits.MAX_BLOB_BYTES:
        raise UsageError(f"{shown(text, 60)} is {size_text(info.st_size)}; the limit is "
                         f"{limits.MAX_BLOB_BYTES // (1024 * 1024)} MiB a file")
    return DraftFile(str(path), file_name_of(path) or "?", info.st_size, media_type_of(path),
                     alt or None)


def draft_file_text(item: DraftFile) -> Text:
    """A line of compose's list: `▣ picture: river.png · 12.3 kB · "river at dusk"`."""
    out = Text()
    out.append(f"{'▣' if item.kind == 'picture' else '▤'} {item.kind}: ", "dim")
    out.append(one_line(item.name, 40), "bold")
    out.append(f" · {size_text(item.size)} · ", "dim")
    if item.alt:
        out.append(f"“{one_line(item.alt, LIST_ALT_CHARS)}”", "italic")
    else:
        out.append("no description", "dim")
    return out


def complete_path(text: str) -> tuple[str, list[str]]:
    """`text` with its last part completed, and the names that match it (empty when none
    does or the directory cannot be read)."""
    head, sep, part = text.rpartition("/")
    folder = absolute(head + sep if sep else ".")
    if not sep and text.startswith("~"):
        return (text + "/", []) if absolute(text).is_dir() else (text, [])
    try:
        names = []
        with os.scandir(folder) as entries:
            for entry in entries:
                if entry.name.startswith(part) and (part.startswith(".")
                                                    or not entry.name.startswith(".")):
                    names.append(entry.name + ("/" if _is_dir(entry) else ""))
                if len(names) >= MAX_CHOICES:
                    break
    except (OSError, ValueError):
        return text, []
    if not names:
        return text, []
    common = names[0]
    for name in names[1:]:
        while not name.startswith(common):
            common = common[:-1]
    return head + sep + common, sorted(names)


def _is_dir(entry: os.DirEntry[str]) -> bool:
    try:
        return entry.is_dir()
    except OSError:
        return False
