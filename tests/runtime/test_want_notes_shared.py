"""Every session starts from the same WantNote objects while my range of a feed is unchanged.

A relay wants every member's feed and gives each new session one note per feed: built anew
per session, they made relay memory grow with members squared (issue 10, item 4).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from p2psocial.runtime.config import NodeConfig
from p2psocial.runtime.node import Node
from p2psocial.runtime.replicator import Replicator
from p2psocial.store import keyfile
from p2psocial.store.home import Home
from p2psocial.testing import identity_for

ME = identity_for("note-sharer")


@pytest.mark.asyncio
@pytest.mark.timeout(60)
async def test_sessions_share_the_want_notes(tmp_path: Path) -> None:
    home = Home(tmp_path / "home")
    home.create()
    keyfile.write_doc(home.key_file, keyfile.seal(ME, ""))
    node = Node(home, ME, NodeConfig(listen=["/ip4/127.0.0.1/tcp/0"], mdns=False, dht=False,
                                     announce=False), offline=False)
    await node.start()
    try:
        network = node._network
        assert isinstance(network, Replicator)
        first, second = network.want_notes(), network.want_notes()
        assert first == second and len(first) >= 1
        assert all(a is b for a, b in zip(first, second, strict=True))
    finally:
        await node.stop()
