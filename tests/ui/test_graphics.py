"""Choosing how pictures are drawn (p2psocial.ui.graphics): textual-image asks the terminal
only when `detect` is called, and where it cannot ask it falls back to half-blocks instead
of raising. Each case runs in its own process on a real pseudo-terminal."""

from __future__ import annotations

import os
import subprocess
import sys
import threading

import pytest

PROGRAM = ("from p2psocial.ui import graphics, app; graphics.detect(); "
           "print('drawn by', graphics.renderer().__name__)")


def run_on_pty(*, stdin_pipe: bool) -> str:
    """Run PROGRAM with its stdout (and stdin, unless `stdin_pipe`) on a pseudo-terminal
    that reports no size and answers nothing; what it wrote."""
    master, slave = os.openpty()
    env = {k: v for k, v in os.environ.items() if k != "P2PSOCIAL_IMAGES"}
    proc = subprocess.Popen([sys.executable, "-c", PROGRAM], stdout=slave, stderr=slave,
                            stdin=subprocess.PIPE if stdin_pipe else slave, env=env)
    os.close(slave)
    out = bytearray()

    def drain() -> None:
        while True:
            try:
                chunk = os.read(master, 4096)
            except OSError:
                return
            if not chunk:
                return
            out.extend(chunk)
    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    try:
        assert proc.wait(timeout=60) == 0, bytes(out).decode(errors="replace")
    finally:
        if proc.stdin:
            proc.stdin.close()
        reader.join(timeout=10)
        os.close(master)
    return bytes(out).decode(errors="replace")


@pytest.mark.parametrize("stdin_pipe", [True, False], ids=["stdin-a-pipe", "no-size"])
def test_detect_falls_back_to_half_blocks_where_the_terminal_cannot_be_asked(
        stdin_pipe: bool) -> None:
    """stdin a pipe: the library reads its answer from stdin and raised termios.error; a
    terminal of no size: it divided by zero. Neither is a traceback now."""
    out = run_on_pty(stdin_pipe=stdin_pipe)
    assert "Traceback" not in out
    assert "drawn by HalfcellImage" in out or "drawn by AutoImage" in out


def test_the_app_imports_without_asking_the_terminal() -> None:
    """Importing the app asks nothing: only launch's `detect` does, after any prompt."""
    code = ("import sys; import p2psocial.ui.app; "
            "print('textual_image' in ' '.join(sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "False"
