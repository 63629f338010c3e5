"""Relays keep their members' accounts (issue 11, acceptance 5; spec J3-J5).

A device (not the account key) joins a relay naming its account; a follower that can reach
the account only through the relay (kernel-isolated: the device and the follower are in
network namespaces that cannot reach each other, and the device is offline by then) learns
the account's ops from the relay and gets the device's posts. Every node is an OS process.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from p2psocial.testing.netns import Internet, NetnsUnavailable
from p2psocial.testing.nodes import NodeProcess

pytestmark = pytest.mark.slow
PORT = 4001


@pytest.fixture
def internet() -> Iterator[Internet]:
    try:
        with Internet("ar") as net:
            yield net
    except NetnsUnavailable as exc:  # pragma: no cover - CI runs as root with iproute2
        pytest.fail(f"these tests need network namespaces: {exc}")


class World:
    """Nodes in namespaces, stopped at the end."""

    def __init__(self, net: Internet, tmp: Path) -> None:
        self.net, self.tmp = net, tmp
        self.nodes: list[NodeProcess] = []

    def node(self, name: str, *, public: bool, account: bool = False) -> NodeProcess:
        (self.net.public if public else self.net.private)(name)
        node = NodeProcess(self.tmp / name, netns=self.net.ns(name))
        if account:
            node.cli("init", "--account", "--no-passphrase", "--name", name)
        else:
            node.cli("init", "--no-passphrase")
        node.home.joinpath("config.json").write_text(json.dumps({"look_seconds": 1.0}))
        self.nodes.append(node)
        return node

    def start(self, node: NodeProcess, *, relay: bool = False) -> str:
        ip = self.net.ip(node.home.name)
        node.start(listen=f"/ip4/{ip}/tcp/{PORT}", verb="relay" if relay else "run")
        return f"/ip4/{ip}/tcp/{PORT}/p2p/{node.handle}"

    def close(self) -> None:
        for node in self.nodes:
            node.stop()


@pytest.fixture
def world(internet: Internet, tmp_path: Path) -> Iterator[World]:
    made = World(internet, tmp_path)
    yield made
    made.close()


def reserved(addr: str) -> Any:
    return lambda n: {r["addr"]: r["state"] for r in n.json("relays", "list")}.get(
        addr) == "reserved"


def test_a_follower_reaching_an_account_only_through_a_relay_gets_its_device_posts(
        world: World) -> None:
    relay = world.node("r", public=True)
    device = world.node("d", public=False, account=True)
    follower = world.node("f", public=False)
    r_addr = world.start(relay, relay=True)

    account = device.cli("id").stdout.strip()
    device_handle = device.cli("id", "--device").stdout.strip()
    assert account != device_handle  # only the device is the relay's member
    device.cli("relays", "add", r_addr)
    device.cli("post", "d1 from the device")
    world.start(device)
    device.wait_for(reserved(r_addr), timeout=30, what="the device's reservation on r")
    device.cli("post", "d2 while a member")

    def relay_holds(n: NodeProcess) -> bool:
        return {"d1 from the device", "d2 while a member"} <= set(n.texts(device_handle))

    relay.wait_for(relay_holds, timeout=30, what="the device's posts on r")
    device.stop()  # from now on only the relay has anything of the account

    follower.cli("follow", account, "--unknown")
    follower.cli("relays", "add", r_addr)   # a relay the follower shares with the account
    world.start(follower)

    def shows_both(n: NodeProcess) -> bool:
        texts = {item["text"] for item in n.json("feed", "--limit", "50")}
        return {"d1 from the device", "d2 while a member"} <= texts

    follower.wait_for(shows_both, timeout=45, what="the device's posts through the relay")
    rows = follower.json("feed", "--limit", "50")
    assert {row["account"] for row in rows} == {account}  # shown as the account's posts
    assert "all valid" in follower.cli("verify", device_handle).stdout
