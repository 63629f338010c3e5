"""Keys typed ahead, on a real terminal (a pty): a passphrase typed partly before its prompt
shows is read whole, and keys typed before the app shows do not run as its commands
(issue 9: passphrase text typed before the UI's prompt led to "wrong passphrase")."""

from __future__ import annotations

import fcntl
import json
import os
import select
import signal
import struct
import subprocess
import sys
import termios
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from p2psocial.runtime.config import NodeConfig
from p2psocial.ui.launch import node_answers

SECRET = "typed ahead secret"


class Terminal:
    """`p2psocial --home HOME [ARGS]` (the UI, or a command) on a pty of 80x24; what it
    prints is collected."""

    def __init__(self, home: Path, *args: str) -> None:
        self.master, slave = os.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
        env = {k: v for k, v in os.environ.items() if not k.startswith("P2PSOCIAL_")}
        self.proc = subprocess.Popen([sys.executable, "-m", "p2psocial", "--home", str(home),
                                      *args],
                                     stdin=slave, stdout=slave, stderr=slave,
                                     env={**env, "TERM": "xterm-256color"},
                                     start_new_session=True)
        os.close(slave)
        self.screen = bytearray()
        self._stop = threading.Event()
        self._reader = threading.Thread(target=self._drain, daemon=True)
        self._reader.start()

    def _drain(self) -> None:
        # (stopped and joined before the pty is closed: a reader left running would read,
        # from the same fd number reused by the next test's pty, that test's output)
        while not self._stop.is_set():
            try:
                ready, _, _ = select.select([self.master], [], [], 0.5)
                if ready:
                    chunk = os.read(self.master, 65536)
                    if not chunk:
                        return
                    self.screen.extend(chunk)
            except OSError:
                return

    def type(self, text: str) -> None:
        os.write(self.master, text.encode())

    def wait_for(self, what: bytes, *, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while True:
            assert b"wrong passphrase" not in self.screen.lower(), bytes(self.screen)[-1500:]
            if what in self.screen:
                return
            assert self.proc.poll() is None, bytes(self.screen)[-1500:]
            assert time.monotonic() < deadline, (what, bytes(self.screen)[-1500:])
            time.sleep(0.05)

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._stop.set()
        self._reader.join(timeout=10)
        os.close(self.master)


def make_home(home: Path, secret: str | None) -> None:
    home.mkdir(mode=0o700)
    NodeConfig(listen=["/ip4/127.0.0.1/tcp/0"], mdns=False, dht=False).save(
        home / "config.json")
    env = {k: v for k, v in os.environ.items() if not k.startswith("P2PSOCIAL_")}
    command = [sys.executable, "-m", "p2psocial", "--home", str(home), "init", "--single-key"]
    if secret is None:
        command.append("--no-passphrase")
    else:
        (home.parent / "pass").write_text(secret + "\n")
        env["P2PSOCIAL_PASSPHRASE_FILE"] = str(home.parent / "pass")
    subprocess.run(command, check=True, env=env, capture_output=True)


@pytest.fixture
def terminals() -> Iterator[list[Terminal]]:
    started: list[Terminal] = []
    yield started
    for terminal in started:
        terminal.close()


def test_a_passphrase_typed_partly_before_its_prompt_is_read_whole(
        tmp_path: Path, terminals: list[Terminal]) -> None:
    me = tmp_path / "me"
    make_home(me, SECRET)
    ui = Terminal(me)
    terminals.append(ui)
    ui.type(SECRET[:9])  # before the prompt shows (the interpreter is still starting)
    ui.wait_for(b"Passphrase:")
    ui.type(SECRET[9:] + "\n")
    deadline = time.monotonic() + 60
    while not node_answers(me / "node.sock"):
        ui.wait_for(b"Passphrase:")  # (fails at once on "wrong passphrase" or an exit)
        assert time.monotonic() < deadline, bytes(ui.screen)[-1500:]
        time.sleep(0.1)
    assert SECRET.encode() not in ui.screen  # never echoed once the prompt showed


def test_an_enter_typed_while_waiting_is_not_a_wrong_passphrase(
        tmp_path: Path, terminals: list[Terminal]) -> None:
    me = tmp_path / "me"
    make_home(me, SECRET)
    ui = Terminal(me)
    terminals.append(ui)
    ui.type("\n")  # impatient
    ui.wait_for(b"Passphrase:")
    ui.type(SECRET + "\n")
    deadline = time.monotonic() + 60
    while not node_answers(me / "node.sock"):
        ui.wait_for(b"Passphrase:")
        assert time.monotonic() < deadline, bytes(ui.screen)[-1500:]
        time.sleep(0.1)


def test_keys_typed_before_the_app_shows_do_not_run_as_its_commands(
        tmp_path: Path, terminals: list[Terminal]) -> None:
    """(`make run` passes a new passphrase through a pipe: a passphrase typed again for a
    prompt that never comes reached the app as keys: its "2" opened Notifications, a "c"
    opens the compose dialog, which would take the rest as the text of a post.)"""
    me = tmp_path / "me"
    make_home(me, None)
    ui = Terminal(me)
    terminals.append(ui)
    ui.type("c")
    ui.wait_for(b"Home")
    ui.type("3")  # Me (in the compose dialog: a "3" in the text)
    ui.wait_for(b"Your handle", timeout=30)


def test_an_enter_typed_before_the_new_passphrase_prompt_does_not_make_a_bare_key(
        tmp_path: Path, terminals: list[Terminal]) -> None:
    """(An empty new passphrase means "store the key unencrypted": only when typed at its
    prompt, not when an Enter was pressed while the program started.)"""
    me = tmp_path / "me"
    ui = Terminal(me, "init", "--single-key")
    terminals.append(ui)
    ui.type("\n")
    ui.wait_for(b"New passphrase")
    ui.type(SECRET + "\n")
    ui.wait_for(b"Repeat passphrase")
    ui.type(SECRET + "\n")
    assert ui.proc.wait(timeout=60) == 0, bytes(ui.screen)[-1500:]
    assert b"unencrypted" not in ui.screen.lower(), bytes(ui.screen)[-1500:]
    assert json.loads((me / "key.json").read_text())["kdf"] != "none"  # encrypted
