"""Opening the app on the user's own home.

If a node already runs on the home, the app attaches to it over its control socket (the
node keeps the key; nothing is asked). Otherwise the key is unlocked in the terminal (a
passphrase prompt, before the app takes the screen) and a node starts inside the app, after
its first frame is drawn.
"""

from __future__ import annotations

import socket
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from p2psocial.core.identity import Identity
from p2psocial.runtime.config import load_config
from p2psocial.runtime.local import require_identity
from p2psocial.runtime.node import Node
from p2psocial.ui.backend import AttachedBackend, InProcessBackend, UiBackend

# The one place the in-process node goes online. The replicator has landed (a01426d), and
# `False` works today: the node joins the network with the home's config.json and the Network
# screen shows its peers and sync. It is still True because a networked Node.start() imports
# libp2p and starts the host before it returns (~1.1 s here), which would push the first
# timeline past the 1.5 s cold-start target. Once Node can start its network after start(),
# start it from the app after the first page is drawn and flip this.
IN_PROCESS_OFFLINE = True

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


def attach(socket_path: Path) -> Callable[[], Any]:
    """An opener that attaches to the node at `socket_path`."""
    async def open_() -> UiBackend:
        return await AttachedBackend.open(socket_path)
    return open_


def open_in_process(home: Any, identity: Identity, *,
                    offline: bool = IN_PROCESS_OFFLINE) -> Callable[[], Any]:
    """An opener that starts a node on `home` (a p2psocial.store.home.Home, passed through
    to the runtime) inside the app's event loop, networked with the home's config unless
    `offline`."""
    async def open_() -> UiBackend:
        node = Node(home, identity, load_config(home.config_file), offline=offline)
        await node.start()
        return InProcessBackend(node)
    return open_


def run_tui(home: Any, unlock: Unlock) -> int:
    """Run the app on `home`; returns the exit status.

    Raises:
        KeyfileError: the home holds no identity.
    """
    from p2psocial.ui.app import SocialApp  # Textual is imported only for the UI

    if node_answers(home.control_socket):
        opener = attach(home.control_socket)
    else:
        identity = unlock(require_identity(home))
        opener = open_in_process(home, identity)
    app = SocialApp(opener, settings_path=Path(home.root) / "ui.json")
    app.run()
    if app.failure:
        sys.stderr.write(f"p2psocial: {app.failure}\n")
        return 1
    return 0
