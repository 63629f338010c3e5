"""`p2psocial connect` says which address the connection uses (real nodes, OS processes)."""

from __future__ import annotations

from pathlib import Path

import pytest

from p2psocial.testing.nodes import NodeProcess

pytestmark = pytest.mark.slow


def test_connect_to_a_wrong_address_of_a_connected_peer_says_so(tmp_path: Path) -> None:
    alice = NodeProcess.create(tmp_path / "alice", name="Alice")
    bob = NodeProcess.create(tmp_path / "bob", name="Bob")
    with alice, bob:
        alice.start(listen="/ip4/127.0.0.1/tcp/0")
        right = alice.addrs()[0]
        bob.start()
        first = bob.cli("connect", right).stdout
        assert first.startswith("connected to ") and right.split("/p2p/")[0] in first
        transport, _, peer = right.rpartition("/p2p/")
        port = int(transport.rsplit("/", 1)[1])
        wrong = f"/ip4/127.0.0.1/tcp/{port + 1 if port < 65535 else port - 1}/p2p/{peer}"
        again = bob.cli("connect", wrong).stdout
        assert again.startswith("already connected to "), again
        assert right.split("/p2p/")[0] in again and wrong in again
        assert "not dialled" in again
        # a connected peer is a feed seen here: following it needs no --unknown
        assert "now following" in bob.cli("follow", alice.handle).stdout
