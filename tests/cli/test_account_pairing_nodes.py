"""Pairing between two running nodes on one machine, driven by the real CLI (issue 11): the
new device's token carries its node's address; `device add` on the account's device goes
through its node, which dials the new device; the new device gets the op and posts as the
account; a revocation made while both run reaches the revoked device, which then refuses to
post. A recovery on a fresh home learns the account's log from a peer first. Nothing secret
is in any home or the nodes' logs.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from p2psocial.testing.nodes import NodeProcess

from .conftest import Cli
from .test_account_cli import _assert_no_secret

pytestmark = pytest.mark.slow


def _status(node: NodeProcess) -> Any:
    return node.json("account", "show")["device_status"]


def test_link_add_and_revoke_between_running_nodes(tmp_path: Path) -> None:
    laptop, phone = NodeProcess(tmp_path / "laptop"), NodeProcess(tmp_path / "phone")
    made = laptop.json("init", "--account", "--no-passphrase", "--name", "laptop")
    phone.json("device", "link", "--account", made["account"], "--no-passphrase",
               "--name", "phone")
    with laptop, phone:
        laptop.start()
        phone.start()
        link = phone.json("device", "link", "--account", made["account"])
        assert link["addrs"] and all("/p2p/" in a for a in link["addrs"])
        added = laptop.json("device", "add", link["token"])
        assert added["reached"]
        phone.wait_for(lambda n: _status(n) == "current", timeout=30,
                       what="the add op on the new device")
        phone.cli("post", "hello from the phone")
        laptop.wait_for(lambda n: "hello from the phone" in n.texts(link["device"]),
                        timeout=30, what="the phone's post on the laptop")
        revoked = laptop.json("device", "revoke", "phone")
        assert revoked["after"] == 1
        phone.wait_for(lambda n: _status(n) == "revoked", timeout=30,
                       what="the revoke op on the phone")
        refused = phone.cli("post", "after the revocation", check=False)
        assert refused.returncode == 2  # a UsageError: bad input
        assert "revoked from the account" in refused.stderr
        assert phone.texts() == ["hello from the phone"]
    _assert_no_secret(tmp_path, made["recovery_phrase"])  # both homes and the node logs


def test_recover_learns_the_account_log_from_a_peer(tmp_path: Path) -> None:
    laptop = NodeProcess(tmp_path / "laptop")
    made = laptop.json("init", "--account", "--no-passphrase", "--name", "laptop")
    phrase = made["recovery_phrase"] + "\n"
    fresh = Cli(tmp_path / "fresh", None)
    line = fresh.fails("recover", "--account", made["account"], "--no-passphrase",
                       "--name", "new laptop", input=phrase)
    assert "holds no log of it yet" in line
    restored = NodeProcess(fresh.home)
    with laptop, restored:
        laptop.start()
        restored.start(peers=laptop.addrs()[:1])
        restored.wait_for(lambda n: n.json("account", "show")["ops"] == 2, timeout=30,
                          what="the account's ops from the laptop")
        done = json.loads(fresh("recover", "--json", input=phrase).stdout)  # via its node
        assert done["admin"] and done["device"] not in (made["device"], made["account"])
        assert restored.json("account", "show")["device_status"] == "current"
        restored.cli("post", "recovered")
        laptop.wait_for(lambda n: "recovered" in n.texts(done["device"]), timeout=30,
                        what="the recovered device's post on the laptop")
        laptop.wait_for(lambda n: len(n.json("device", "list")) == 3, timeout=30,
                        what="the recovery's add op on the laptop")
    _assert_no_secret(tmp_path, made["recovery_phrase"])
