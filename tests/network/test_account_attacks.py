"""Revocation and rotation against an attacker (issue 11, acceptance 3), with real node
processes driven by the CLI.

- A stolen device key: the thief runs a copy of the phone's home (same key, the chain as the
  copy holds it) and posts on from it. The owner revokes the phone after its last honest
  entry. Three followers (one the devices dial directly, one that reaches the account only
  through a relay, one that was offline during the revocation) end up showing every entry up
  to that point and none of the thief's. Kernel isolation (network namespaces): the devices
  and the relay-only follower are private hosts, which reach public hosts only.
- A leaked account key: the thief adds a device of its own and revokes the owner's; the
  owner rotates the account key with the recovery phrase, undoing the thief's first op
  (`account rotate --undo`, spec S6). The follower does nothing and ends up counting the
  owner's device again and none of the thief's posts.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from p2psocial.testing.account_ops import copy_account_ops
from p2psocial.testing.nodes import NodeProcess
from tests.network.account_world import World, world_in

pytestmark = pytest.mark.slow


def shown(node: NodeProcess) -> set[str]:
    """The texts on the node's timeline (what its user sees)."""
    return {row["text"] for row in node.json("feed", "--limit", "100")}


def showing(wanted: set[str], unwanted: set[str] = frozenset()  # type: ignore[assignment]
            ) -> Callable[[NodeProcess], bool]:
    def check(node: NodeProcess) -> bool:
        texts = shown(node)
        return wanted <= texts and not texts & unwanted
    return check


def steal(src: NodeProcess, dst: Path, netns: str | None = None) -> NodeProcess:
    """A copy of `src`'s home (key, account files, database) at `dst`, as a thief takes it."""
    shutil.copytree(src.home, dst, ignore=shutil.ignore_patterns("node.sock", "*.lock",
                                                                   "lock"))
    return NodeProcess(dst, netns=netns)


def with_input(node: NodeProcess, text: str, *args: str) -> Any:
    """Run a CLI command with `text` on its stdin (the recovery phrase); its --json output."""
    prefix = ["ip", "netns", "exec", node.netns] if node.netns else []
    result = subprocess.run([*prefix, sys.executable, "-m", "p2psocial", *args, "--json"],
                            env=node.env, input=text, capture_output=True, text=True,
                            timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def at_once(job: Callable[[Any], Any], items: list[Any]) -> list[Any]:
    """`job` of each item, run at the same time (node starts and CLI calls are slow; one
    home's commands must not overlap: each takes the home's lock)."""
    with ThreadPoolExecutor(len(items)) as pool:
        return list(pool.map(job, items))


# --- a stolen device key --------------------------------------------------------------------


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    with world_in("aa", tmp_path) as made:
        yield made


def test_a_stolen_device_key_is_revoked_for_every_kind_of_follower(world: World) -> None:
    tmp = world.tmp
    relay, f1, f3 = at_once(lambda n: world.node(n, public=True), ["r", "f1", "f3"])
    f2, laptop = at_once(lambda args: world.node(*args, public=False),
                         [("f2",), ("o", "--account", "--name", "laptop")])
    account = laptop.cli("id").stdout.strip()
    r_addr = world.start(relay, relay=True)

    # the phone: a second device of the account, paired offline
    phone = NodeProcess(tmp / "phone")
    token = phone.json("device", "link", "--account", account, "--name", "phone",
                       "--no-passphrase")["token"]
    laptop.cli("device", "add", token)
    phone_handle = phone.cli("id", "--device").stdout.strip()
    setup = {laptop: [("relays", "add", r_addr)], phone: [("relays", "add", r_addr)],
             f1: [("follow", account, "--unknown")], f3: [("follow", account, "--unknown")],
             # f2 reaches the account only through the relay
             f2: [("follow", account, "--unknown"), ("relays", "add", r_addr)]}
    at_once(lambda node: [node.cli(*args) for args in setup[node]], list(setup))
    laptop.cli("post", "laptop says hello")
    phone.cli("post", "phone honest 1")
    phone.cli("post", "phone honest 2")
    honest = max(e["seq"] for e in phone.json("log")["entries"])

    # the phone is stolen: the thief runs a copy of its home and posts on
    thief = world.place(steal(phone, tmp / "t", world.ns("t", public=False)))
    direct = tuple(at_once(world.start, [f1, f3]))
    at_once(lambda node: world.start(node, peers=direct if node is not f2 else ()),
            [f2, laptop, thief])
    thief.cli("post", "thief 1")
    thief.cli("post", "thief 2")
    everything = {"laptop says hello", "phone honest 1", "phone honest 2"}
    stolen = {"thief 1", "thief 2"}
    for follower in (f1, f2, f3):
        follower.wait_for(showing(everything | stolen), timeout=45,
                          what="every post, the thief's too, before the revocation")
    f3.stop()

    revoked = laptop.json("device", "revoke", "phone", "--after", str(honest))
    assert revoked["after"] == honest
    world.start(f3)
    for follower in (f1, f2, f3):
        follower.wait_for(showing(everything, stolen), timeout=45,
                          what="the thief's posts gone, the honest ones kept")
    from_phone = {row["text"] for row in f2.json("feed", "--limit", "100")
                  if row["author"] == phone_handle}
    assert from_phone == {"phone honest 1", "phone honest 2"}


# --- a leaked account key -------------------------------------------------------------------


@pytest.fixture
def loopback(tmp_path: Path) -> Iterator[list[NodeProcess]]:
    made = [NodeProcess(tmp_path / name) for name in ("laptop", "thief", "follower")]
    yield made
    for node in made:
        node.stop()


def test_a_leaked_account_key_is_rotated_away_and_the_thief_undone(
        loopback: list[NodeProcess]) -> None:
    laptop, thief, follower = loopback
    made = laptop.json("init", "--account", "--no-passphrase", "--name", "laptop")
    account, phrase = made["account"], made["recovery_phrase"]
    follower.cli("init", "--no-passphrase", "--single-key")
    follower.cli("follow", account, "--unknown")
    laptop.cli("post", "owner before the leak")

    # the account key leaks: the thief pairs a device of its own with it and revokes the
    # owner's laptop (after 0: none of its entries count)
    linked = thief.json("device", "link", "--account", account, "--name", "thief box",
                        "--no-passphrase")
    thief_device = thief.cli("id", "--device").stdout.strip()
    shutil.copy2(laptop.home / "account-key.json", thief.home / "account-key.json")
    copy_account_ops(laptop.home, thief.home, account)  # its log, as any node can fetch it
    thief.cli("device", "add", linked["token"])
    thief.cli("device", "revoke", "laptop", "--after", "0")
    thief.cli("post", "thief speaking for the account")

    at_once(lambda node: node.start(), [laptop, thief])
    follower.start(peers=[laptop.addrs()[0], thief.addrs()[0]])
    owner, stolen = {"owner before the leak"}, {"thief speaking for the account"}
    follower.wait_for(showing(stolen, owner), timeout=45, what="the thief's takeover")

    def thief_ops(node: NodeProcess) -> list[dict[str, Any]]:
        log: list[dict[str, Any]] = node.json("account", "show")["log"]
        return [row for row in log if row["type"] == "add" and row["key"] == thief_device]

    first = laptop.wait_for(thief_ops, timeout=45, what="the thief's ops on the laptop")[0]
    rotated = with_input(laptop, phrase + "\n", "account", "rotate", "--undo",
                         first["hash"][:16], "--no-passphrase")
    assert rotated["account"] == account

    follower.wait_for(showing(owner, stolen), timeout=45,
                      what="the rotation undoing the thief, with no action of the follower")
    laptop.cli("post", "owner after the rotation")   # the laptop is a device again
    # the thief's node may refuse by now; if it still writes, the entry counts nowhere
    thief.cli("post", "thief after the rotation", check=False)
    stolen.add("thief after the rotation")
    follower.wait_for(showing(owner | {"owner after the rotation"}, stolen), timeout=45,
                      what="the owner's new post")
    assert thief_device not in {row["author"] for row in follower.json("feed", "--limit", "100")}
    log = laptop.json("account", "show")["log"]
    assert [row["type"] for row in log] == ["init", "add", "rotate"]
    assert not any(row["key"] == thief_device for row in log)
