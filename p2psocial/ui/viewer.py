"""Opening a picture or file in the system viewer.

Rules:
- The system viewer is the command in P2PSOCIAL_OPEN if set (the file's path is added to
  it), else `open` on macOS, else `xdg-open`. It runs detached from the terminal (no stdin,
  no output, its own session), so nothing it prints can tear the app's screen. A missing
  command, or one that exits with an error within VIEWER_WAIT seconds, is one line for the
  user; one still running then is taken to be the viewer showing the file (a thread reaps
  it when it ends).
- The file handed to the viewer is a copy named for what it is (its name, or its id, with
  the extension its type calls for) in a private directory made once per process: a blob's
  own file has no extension, and `open` on macOS cannot tell what to do with it. The node
  writes the copy (`blob_get` with `out`), fetching the blob first if it is not held.
  Directories of earlier runs are swept when a run makes its own, once a day old: copies do
  not pile up.
"""

from __future__ import annotations

import asyncio
import functools
import mimetypes
import os
import re
import shlex
import shutil
import stat
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from p2psocial.ui.attachments import AttachmentItem
from p2psocial.ui.backend import UiBackend

VIEWER_WAIT = 3.0  # seconds a viewer has to fail in before it is taken to be showing the file
VIEWER_ENV = "P2PSOCIAL_OPEN"
COPIES_PREFIX = "p2psocial-open-"
COPIES_MAX_AGE = 86_400.0  # a day
_UNSAFE = re.compile(r"[^A-Za-z0-9._ +-]+")


def viewer_command() -> list[str]:
    """The command that opens a file (its path is added): see the module rules."""
    custom = os.environ.get(VIEWER_ENV, "").strip()
    if custom:
        return shlex.split(custom)
    return ["open"] if sys.platform == "darwin" else ["xdg-open"]


def copy_name(item: AttachmentItem) -> str:
    """A safe file name for `item`: its own name's safe characters (or its id), with the
    extension its type calls for when the name has none."""
    stem = _UNSAFE.sub("_", item.name or "").strip(" ._")[:80] or item.blob[:16]
    if Path(stem).suffix:
        return stem
    return stem + (mimetypes.guess_extension(item.type, strict=False) or "")


@functools.cache
def copies_dir() -> Path:
    """This process's private directory (0700) for the copies handed to the viewer; made
    after sweeping away the ones earlier runs left (see `sweep_copies`)."""
    sweep_copies()
    return Path(tempfile.mkdtemp(prefix=COPIES_PREFIX))


def sweep_copies(now: float | None = None, max_age: float = COPIES_MAX_AGE) -> int:
    """Remove the copy directories of earlier runs (mine, untouched for `max_age` seconds):
    a viewer has long read its file by then, and copies must not pile up in the temporary
    directory run after run. How many went."""
    now = time.time() if now is None else now
    gone = 0
    for folder in Path(tempfile.gettempdir()).glob(COPIES_PREFIX + "*"):
        try:
            info = folder.lstat()
            if (info.st_uid != os.getuid() or not stat.S_ISDIR(info.st_mode)
                    or now - info.st_mtime < max_age):
                continue
            shutil.rmtree(folder)
            gone += 1
        except OSError:
            continue
    return gone


def copy_path(item: AttachmentItem) -> Path:
    """Where the named copy of `item` goes for the viewer (its directory is made)."""
    folder = copies_dir() / item.blob[:16]
    folder.mkdir(exist_ok=True)
    return folder / copy_name(item)


async def open_attachment(backend: UiBackend, item: AttachmentItem) -> str | None:
    """Get `item` (fetched by the node if it is not held), then open it in the system viewer.
    None if it went well; else the line that says why not (the node's errors propagate)."""
    target = await asyncio.to_thread(copy_path, item)
    view = await backend.blob_get(item.blob, out=str(target))
    return await open_in_viewer(view.path)


async def open_in_viewer(path: str) -> str | None:
    """Open the file at `path` in the system viewer; None if it went well, else the line
    that says why not."""
    command = viewer_command()
    what = Path(path).name
    if not command:
        return f"cannot open {what}: {VIEWER_ENV} names no command"
    return await asyncio.to_thread(_run_viewer, command, path, what)


def _run_viewer(command: list[str], path: str, what: str) -> str | None:
    program = command[0]
    try:
        process = subprocess.Popen([*command, path], stdin=subprocess.DEVNULL,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                   start_new_session=True)
    except FileNotFoundError:
        hint = "" if os.environ.get(VIEWER_ENV) else \
            f" (set {VIEWER_ENV} to a command that opens files)"
        return f"cannot open {what}: there is no {program} here{hint}"
    except OSError as exc:
        return f"cannot open {what} with {program}: {exc.strerror or exc}"
    try:
        status = process.wait(timeout=VIEWER_WAIT)
    except subprocess.TimeoutExpired:  # the viewer itself, showing the file
        threading.Thread(target=process.wait, daemon=True).start()
        return None
    if status == 0:
        return None
    why = ": no program to open this type is set up" \
        if program == "xdg-open" and status == 3 else ""
    return f"{program} could not open {what} (exit status {status}){why}"
