"""Relays keep their members' accounts (issue 11, acceptance 5; spec J3-J5).

A device (not the account key) joins a relay naming its account; a second device of the
account never joins it and syncs with the first only. A follower that can reach the account
only through the relay (kernel-isolated: a private host, and both devices are offline by
then) learns the account's ops from the relay and gets both devices' posts. Every node is an
OS process.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from p2psocial.testing.nodes import NodeProcess
from tests.network.account_world import PORT, World, world_in

pytestmark = pytest.mark.slow


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    with world_in("ar", tmp_path) as made:
        yield made


def reserved(addr: str) -> Any:
    return lambda n: {r["addr"]: r["state"] for r in n.json("relays", "list")}.get(
        addr) == "reserved"


def test_a_follower_reaching_an_account_only_through_a_relay_gets_its_device_posts(
        world: World) -> None:
    relay = world.node("r", public=True)
    device = world.node("d", "--account", "--name", "d", public=True)
    follower = world.node("f", public=False)
    r_addr = world.start(relay, relay=True)

    account = device.cli("id").stdout.strip()
    device_handle = device.cli("id", "--device").stdout.strip()
    assert account != device_handle  # only the device is the relay's member
    # a second device, added by the account, that never joins the relay: it syncs with the
    # first device only
    second = NodeProcess(world.tmp / "d2", netns=world.ns("d2", public=False))
    world.nodes.append(second)
    token = second.json("device", "link", "--account", account, "--name", "second",
                        "--no-passphrase")["token"]
    device.cli("device", "add", token)
    second_handle = second.cli("id", "--device").stdout.strip()
    second.cli("post", "from the second device")

    device.cli("relays", "add", r_addr)
    device.cli("post", "d1 from the device")
    world.start(device)
    d_addr = device.addrs()[0]   # (`id` names the account: the address needs the device)
    device.wait_for(reserved(r_addr), timeout=30, what="the device's reservation on r")
    device.cli("post", "d2 while a member")
    ip = world.net.ip("d2")
    second.start(listen=f"/ip4/{ip}/tcp/{PORT}", peers=[d_addr])

    def relay_holds(n: NodeProcess) -> bool:
        return {"d1 from the device", "d2 while a member"} <= set(n.texts(device_handle)) \
            and "from the second device" in n.texts(second_handle)

    relay.wait_for(relay_holds, timeout=45, what="both devices' posts on r")
    second.stop()
    device.stop()  # from now on only the relay has anything of the account

    follower.cli("follow", account, "--unknown")
    follower.cli("relays", "add", r_addr)   # a relay the follower shares with the account
    world.start(follower)
    posts = {"d1 from the device", "d2 while a member", "from the second device"}

    def shows_all(n: NodeProcess) -> bool:
        return posts <= {item["text"] for item in n.json("feed", "--limit", "50")}

    follower.wait_for(shows_all, timeout=45, what="both devices' posts through the relay")
    rows = follower.json("feed", "--limit", "50")
    assert {row["account"] for row in rows} == {account}  # shown as the account's posts
    assert "all valid" in follower.cli("verify", second_handle).stdout
