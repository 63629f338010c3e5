"""Nodes in network namespaces, stopped at the end: the account tests' world
(test_account_attacks, test_account_relays)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from p2psocial.testing.netns import Internet, NetnsUnavailable
from p2psocial.testing.nodes import NodeProcess

PORT = 4001
FAST = json.dumps({"look_seconds": 1.0})


@contextmanager
def internet(prefix: str) -> Iterator[Internet]:
    """An `Internet` whose namespaces start with `prefix`; a clear failure without them."""
    try:
        with Internet(prefix) as net:
            yield net
    except NetnsUnavailable as exc:  # pragma: no cover - CI runs as root with iproute2
        pytest.fail(f"these tests need network namespaces: {exc}")


class World:
    """Nodes in namespaces, stopped at the end."""

    def __init__(self, net: Internet, tmp: Path) -> None:
        self.net, self.tmp = net, tmp
        self.nodes: list[NodeProcess] = []

    def node(self, name: str, *init: str, public: bool) -> NodeProcess:
        """A home in its own namespace, made by `p2psocial init --no-passphrase *init`
        (no `init` options: `--single-key`, the follower's and relay's kind of home)."""
        node = NodeProcess(self.tmp / name, netns=self.ns(name, public=public))
        node.cli("init", "--no-passphrase", *(init or ("--single-key",)))
        return self.place(node)

    def place(self, node: NodeProcess) -> NodeProcess:
        """Track `node` (stopped at the end) with a fast look interval."""
        node.home.joinpath("config.json").write_text(FAST)
        self.nodes.append(node)
        return node

    def ns(self, name: str, *, public: bool) -> str:
        """A new namespace `name`, public or behind the private network."""
        (self.net.public if public else self.net.private)(name)
        return self.net.ns(name)

    def start(self, node: NodeProcess, *, relay: bool = False, peers: tuple[str, ...] = ()
              ) -> str:
        """Start `node` on its namespace's address; its full address."""
        ip = self.net.ip(node.home.name)
        node.start(listen=f"/ip4/{ip}/tcp/{PORT}", verb="relay" if relay else "run",
                   peers=peers)
        return f"/ip4/{ip}/tcp/{PORT}/p2p/{node.handle}"

    def close(self) -> None:
        for node in self.nodes:
            node.stop()


@contextmanager
def world_in(prefix: str, tmp: Path) -> Iterator[World]:
    """A `World` over a fresh `Internet`, every node stopped at the end."""
    with internet(prefix) as net:
        made = World(net, tmp)
        try:
            yield made
        finally:
            made.close()
