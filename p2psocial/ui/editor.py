"""Writing a post in $VISUAL / $EDITOR."""

from __future__ import annotations

import os
import shlex
import subprocess
import tempfile
from pathlib import Path

from p2psocial.core.errors import UsageError


def editor_command() -> list[str]:
    """The user's editor command ($VISUAL, else $EDITOR, else vi)."""
    return shlex.split(os.environ.get("VISUAL") or os.environ.get("EDITOR") or "vi")


def edit_text(initial: str) -> str:
    """Open `initial` in the editor and return what was saved.

    Raises:
        UsageError: the editor cannot be run or exits with an error.
    """
    command = editor_command()
    fd, name = tempfile.mkstemp(prefix="p2psocial-post-", suffix=".txt")
    path = Path(name)
    try:
        with os.fdopen(fd, "w") as f:
            f.write(initial)
        try:
            result = subprocess.run([*command, str(path)], check=False)
        except OSError as exc:  # not found, not executable, …
            raise UsageError(f"cannot run the editor {command[0]!r} ({exc.strerror}): "
                             "set $EDITOR") from None
        if result.returncode != 0:
            raise UsageError(f"the editor exited with status {result.returncode}")
        return path.read_text()
    finally:
        path.unlink(missing_ok=True)
