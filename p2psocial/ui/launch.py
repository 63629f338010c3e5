"""Opening the app on the user's own home.

If a node already runs on the home, the app attaches to it over its control socket (the
node keeps the key; nothing is asked). Otherwise the key is unlocked in the terminal (a
passphrase prompt, before the app takes the screen) and a node starts inside the app, after
its first frame is drawn: offline first (the first timeline needs only the database), then
online once that timeline is on screen (importing libp2p alone takes about a second). Its
logs go to HOME/node.log.

Keys typed before the app shows are dropped, not run as its commands: nothing was on screen
to type them at (a passphrase typed for a prompt that never came, since `make run` passes a
new one through a pipe, had its "c" open the compose dialog and the rest fill it).
"""

from __future__ import annotations

import contextlib
import logging
import socket
import sys
import termios
from collections.abc import Callable
from multiprocessing import resource_tracker
from pathlib import Path
from typing import Any

from p2psocial.core.identity import Identity
from p2psocial.runtime.config import load_config
from p2psocial.runtime.local import require_identity
from p2psocial.runtime.node import Node
from p2psocial.store.home import create_private_file
from p2psocial.ui import graphics
from p2psocial.ui.backend import AttachedBackend, InProcessBackend, UiBackend

Unlock = Callable[[dict[str, Any]], Identity]


def node_answers(path: Path) -> bool:
    """True if something accepts connections on the control socket at `path`."""
    if not path.exists():
        return False
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    probe.settimeout(1.0)
    try:
        probe.connect(str(path))
    except OSError:
        return False
    finally:
        probe.close()
    return True


def attach(socket_path: Path, home: Any = None) -> Callable[[], Any]:
    """An opener that attaches to the node at `socket_path` (of `home`, if given)."""
    async def open_() -> UiBackend:
        return await AttachedBackend.open(socket_path, home)
    return open_


def open_in_process(home: Any, identity: Identity, *,
                    offline: bool = False) -> Callable[[], Any]:
    """An opener that starts a node on `home` (a p2psocial.store.home.Home, passed through
    to the runtime) inside the app's event loop. The node starts offline, so the first
    timeline is drawn at once; unless `offline`, the app then starts its network with the
    home's config.json."""
    async def open_() -> UiBackend:
        node = Node(home, identity, load_config(home.config_file), offline=True)
        await node.start()
        return InProcessBackend(node, online=not offline)
    return open_


def start_process_helpers() -> None:
    """Start multiprocessing's resource tracker now, while stderr is the real one: once the
    app runs, sys.stderr is Textual's capture (fileno -1), the tracker cannot start, and the
    store's verification processes fall back to threads (which share this process's GIL
    with the UI)."""
    resource_tracker.ensure_running()


def log_to_file(path: Path) -> None:
    """Send log records to `path`: on the terminal they would tear the app's screen."""
    create_private_file(path)  # the log names peers and feeds: 0600, like the rest
    handler = logging.FileHandler(path)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(logging.INFO)


def drop_typed_ahead() -> None:
    """Discard the terminal's pending input (keys typed before the app shows)."""
    with contextlib.suppress(OSError, ValueError, termios.error):
        termios.tcflush(sys.stdin.fileno(), termios.TCIFLUSH)


def run_tui(home: Any, unlock: Unlock) -> int:
    """Run the app on `home`; returns the exit status.

    Raises:
        KeyfileError: the home holds no identity.
    """
    from p2psocial.ui.app import SocialApp  # Textual is imported only for the UI

    if node_answers(home.control_socket):
        opener = attach(home.control_socket, home)
    else:
        identity = unlock(require_identity(home))
        log_to_file(home.log_file)
        start_process_helpers()
        opener = open_in_process(home, identity)
    app = SocialApp(opener, settings_path=Path(home.root) / "ui.json")
    graphics.detect()  # asks the terminal what it can draw: after any prompt, before the app
    drop_typed_ahead()
    app.run()
    if app.failure:
        sys.stderr.write(f"p2psocial: {app.failure}\n")
        return 1
    return 0
