"""Private messages between nodes that cannot reach each other (issue 12, acceptance 1 and 2;
docs/protocol.md §Private messages M14-M27, D1).

OS processes in network namespaces: relay R is public; erin, alice and mallory are private
(none reaches another directly). Erin and alice are members of R; erin follows nobody.
Mallory is no member of R: she follows erin (so she holds erin's `relays` entry, M16's first
source) and talks to R only. Alice writes to erin through R (a stamp of 8 bits paid); it
lands in erin's requests; erin accepts and replies, and the reply comes back through R.
Mallory's message lands as a request too; erin blocks her, and neither it nor her later
message shows. D1: R's database files and log hold no message text, and, until erin's block
entry names her, its database holds no key of mallory (a writer R knows no other way).
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from p2psocial.core.identity import parse_handle
from p2psocial.testing.nodes import NodeProcess
from tests.network.account_world import World, world_in

CONFIG = json.dumps({"look_seconds": 1.0, "mail_pow_bits": 8, "dht": False})


def until(what: str, check: Callable[[], Any], timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.3)


def conversations(node: NodeProcess) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = node.json("inbox")
    return found


def start(world: World, node: NodeProcess, *, relay: bool = False,
          peers: tuple[str, ...] = ()) -> str:
    node.home.joinpath("config.json").write_text(CONFIG)
    return world.start(node, relay=relay, peers=peers)


def held_relays(node: NodeProcess, handle: str) -> bool:
    with sqlite3.connect(f"file:{node.home / 'p2psocial.db'}?mode=ro", uri=True) as db:
        return db.execute("SELECT 1 FROM relay_lists WHERE author = ?",
                          (parse_handle(handle),)).fetchone() is not None


def relay_bytes(relay: NodeProcess) -> bytes:
    """Every byte of the relay's database files (the WAL included)."""
    return b"".join(p.read_bytes() for p in sorted(relay.home.glob("p2psocial.db*")))


def outbox_done(node: NodeProcess) -> bool:
    with sqlite3.connect(f"file:{node.home / 'p2psocial.db'}?mode=ro", uri=True) as db:
        rows = db.execute("SELECT status, attempts FROM outbox").fetchall()
    return bool(rows) and all(status != "pending" or attempts > 0 for status, attempts in rows)


@pytest.mark.timeout(120)
def test_a_message_reaches_a_stranger_through_her_relay_and_the_reply_comes_back(
        tmp_path: Path) -> None:
    with world_in("ml", tmp_path) as world:
        relay = world.node("relay", public=True)
        r_addr = start(world, relay, relay=True)
        # accounts, as `init` makes them: each side's first message waits for the other's
        # ops (its devices), which only the relay holds (M16, Replicator.look_up_accounts)
        erin = world.node("erin", "--name", "erin-laptop", public=False)
        alice = world.node("alice", "--name", "alice-laptop", public=False)
        mallory = world.node("mallory", public=False)
        for member in (erin, alice):
            member.cli("relays", "add", r_addr)
            start(world, member)
        erin_h, alice_h, mallory_h = erin.handle, alice.handle, mallory.handle
        mallory.cli("follow", erin_h, "--unknown")
        start(world, mallory, peers=(r_addr,))
        sent = alice.cli("dm", erin_h, "hello erin", check=False)
        assert sent.returncode == 0 and "your node delivers it now" in sent.stdout  # it runs

        [conv] = until("alice's message at erin", lambda: conversations(erin))
        assert conv["state"] == "request" and conv["participants"] == [alice_h]
        assert conv["last"]["text"] == "hello erin" and conv["unread"] == 1
        accepted = erin.json("dm", "accept", alice_h)
        assert accepted["state"] == "accepted"
        erin.cli("dm", alice_h, "hi alice")
        until("erin's reply at alice", lambda: [
            m["text"] for m in alice.json("dm", "show", erin_h)["messages"]] == [
                "hello erin", "hi alice"])

        erin_device = erin.cli("id", "--device").stdout.strip()  # her relays entry's author
        until("erin's relays entry at mallory", lambda: held_relays(mallory, erin_device))
        mallory.cli("dm", erin_h, "mallory says hi")
        until("mallory's request at erin", lambda: mallory_h in [
            c["participants"][0] for c in conversations(erin)])
        key = parse_handle(mallory_h)  # D1, before erin's block entry names mallory
        assert key not in relay_bytes(relay) and mallory_h.encode() not in relay_bytes(relay)
        erin.cli("block", mallory_h)
        assert [c["participants"] for c in conversations(erin)] == [[alice_h]]
        mallory.cli("dm", erin_h, "still here")
        until("mallory's second try", lambda: outbox_done(mallory))
        time.sleep(1.0)  # a wrap in flight would land by now; it must not show
        assert [c["participants"] for c in conversations(erin)] == [[alice_h]]

        relay.stop()
        held, log = relay_bytes(relay), relay.log_path.read_bytes()
        for text in (b"hello erin", b"hi alice", b"mallory says hi", b"still here"):
            assert text not in held and text not in log  # D1


@pytest.mark.timeout(120)
def test_a_message_sent_before_the_recipients_devices_are_known_reaches_them_later(
        tmp_path: Path) -> None:
    """M16: alice writes to erin's account before anyone holds erin's ops (erin has never
    been online), so it is sealed to erin's account id alone, which no device of hers can
    open. When erin joins the relay, her ops reach alice (who asked for them), alice seals
    the message again to erin's devices, and erin reads it."""
    with world_in("mb", tmp_path) as world:
        relay = world.node("relay", public=True)
        r_addr = start(world, relay, relay=True)
        erin = world.node("erin", "--name", "erin-laptop", public=False)
        alice = world.node("alice", "--name", "alice-laptop", public=False)
        erin.cli("relays", "add", r_addr)
        alice.cli("relays", "add", r_addr)
        start(world, alice)
        assert alice.cli("dm", erin.handle, "written while you were away").returncode == 0
        start(world, erin)
        [conv] = until("the message at erin", lambda: conversations(erin), timeout=45)
        assert conv["last"]["text"] == "written while you were away"
