"""Relays with real kernel isolation: A and B in their own network namespaces cannot reach
each other; relays R and R2 are reachable from both. Every node is its own OS process."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from p2psocial.testing.netns import Internet, NetnsUnavailable
from p2psocial.testing.nodes import NodeProcess

pytestmark = pytest.mark.slow
PORT = 4001
LOOK_SECONDS = 1.0


@pytest.fixture
def internet() -> Iterator[Internet]:
    try:
        with Internet("rl") as net:
            yield net
    except NetnsUnavailable as exc:  # pragma: no cover - CI runs as root with iproute2
        pytest.fail(f"these tests need network namespaces: {exc}")


class World:
    """Nodes in namespaces, stopped at the end."""

    def __init__(self, net: Internet, tmp: Path) -> None:
        self.net = net
        self.tmp = tmp
        self.nodes: list[NodeProcess] = []

    def node(self, name: str, *, public: bool) -> NodeProcess:
        if public:
            self.net.public(name)
        else:
            self.net.private(name)
        node = NodeProcess.create(self.tmp / name, name=name.upper(), netns=self.net.ns(name))
        node.home.joinpath("config.json").write_text(json.dumps({"look_seconds": LOOK_SECONDS}))
        self.nodes.append(node)
        return node

    def start(self, node: NodeProcess, *, relay: bool = False, extra: tuple[str, ...] = ()
              ) -> str:
        """Start `node` listening on its namespace's address; its full address."""
        ip = self.net.ip(node.home.name)
        node.start(listen=f"/ip4/{ip}/tcp/{PORT}", verb="relay" if relay else "run",
                   extra=extra)
        return f"/ip4/{ip}/tcp/{PORT}/p2p/{node.handle}"

    def close(self) -> None:
        for node in self.nodes:
            node.stop()


@pytest.fixture
def world(internet: Internet, tmp_path: Path) -> Iterator[World]:
    made = World(internet, tmp_path)
    yield made
    made.close()


def shows(text: str, handle: str) -> Callable[[NodeProcess], bool]:
    return lambda node: text in node.texts(handle)


def relay_state(node: NodeProcess, addr: str) -> str:
    states = {r["addr"]: r["state"] for r in node.json("relays", "list")}
    return states.get(addr, "missing")


def test_follow_by_invite_through_a_relay_offline_author_and_relay_failover(
        world: World) -> None:
    r, r2 = world.node("r", public=True), world.node("r2", public=True)
    a, b, c = (world.node(n, public=False) for n in ("a", "b", "c"))
    r_addr = world.start(r, relay=True)

    a.cli("relays", "add", r_addr)
    a.cli("post", "a1 before anyone followed")
    a_handle = a.handle
    world.start(a)
    a.wait_for(lambda n: relay_state(n, r_addr) == "reserved", timeout=30,
               what="a's reservation on r")
    token = a.cli("invite").stdout.strip()

    # A and B cannot reach each other: B knows nothing but the invite
    b.cli("follow", token)
    world.start(b)
    b.wait_for(shows("a1 before anyone followed", a_handle), timeout=30, what="a1 via r")
    a.cli("post", "a2 live through the relay")
    b.wait_for(shows("a2 live through the relay", a_handle), timeout=15, what="a2 live")
    # R keeps A's feed for its member but subscribes to no gossip topic for it (each
    # subscription would be announced to every connected peer); B follows A: one topic
    assert r.json("status")["topics"] == 0
    assert b.json("status")["topics"] == 1

    # A goes offline: a newcomer still gets A's posts, from R
    a.stop()
    c.cli("follow", token)
    world.start(c)
    c.wait_for(shows("a2 live through the relay", a_handle), timeout=30,
               what="a's posts from r while a is offline")

    # a second relay; then R dies: new posts still arrive
    r2_addr = world.start(r2, relay=True, extra=("--peer", r_addr))
    world.start(a)
    a.cli("relays", "add", r2_addr)
    a.wait_for(lambda n: relay_state(n, r2_addr) == "reserved", timeout=30,
               what="a's reservation on r2")
    b.wait_for(lambda n: any(p["handle"] == r2.handle for p in n.json("peers")), timeout=30,
               what="b connecting to r2 from a's relays entry")
    r.kill()
    a.cli("post", "a3 after r died")
    b.wait_for(shows("a3 after r died", a_handle), timeout=30, what="a3 through r2")
    assert "all valid" in b.cli("verify", a_handle).stdout


def test_deplatforming_drill(world: World) -> None:
    r, r2 = world.node("r", public=True), world.node("r2", public=True)
    a, b = world.node("a", public=False), world.node("b", public=False)
    r_addr = world.start(r, relay=True)
    r2_addr = world.start(r2, relay=True, extra=("--peer", r_addr))

    a.cli("relays", "add", r_addr)
    a.cli("post", "before the ban")
    a_handle = a.handle
    world.start(a)
    a.wait_for(lambda n: relay_state(n, r_addr) == "reserved", timeout=30,
               what="a's reservation on r")
    b.cli("follow", a.cli("invite").stdout.strip())
    world.start(b)
    b.wait_for(shows("before the ban", a_handle), timeout=30, what="a's post via r")

    # R refuses A
    r.cli("block", a_handle)
    a.wait_for(lambda n: relay_state(n, r_addr) in ("refused", "unreachable"), timeout=30,
               what="r refusing a")
    assert a_handle not in r.json("status")["reservations"]

    # one command on A's side; none on B's
    a.cli("relays", "add", r2_addr)
    assert a.json("relays", "list")[1]["addr"] == r2_addr
    a.wait_for(lambda n: relay_state(n, r2_addr) == "reserved", timeout=30,
               what="a's reservation on r2")
    a.cli("post", "after the ban")
    b.wait_for(shows("after the ban", a_handle), timeout=60,
               what="a's post reaching b with no action of b's")
    assert r2_addr in b.json("log", a_handle)["entries"][0].get("relays", []) or \
        r2_addr in json.dumps(b.json("log", a_handle))


def test_reservations_are_renewed_and_remade_after_a_relay_restart(tmp_path: Path) -> None:
    """On loopback (no isolation needed): a short reservation lifetime shows renewals."""
    relay = NodeProcess.create(tmp_path / "r", name="R")
    relay.home.joinpath("config.json").write_text(json.dumps({"relay_reservation_ttl": 4}))
    author = NodeProcess.create(tmp_path / "a", name="A")
    try:
        relay.start(verb="relay")
        r_addr = relay.addrs()[0]
        port_addr = r_addr.split("/p2p/")[0]
        author.cli("relays", "add", r_addr)
        author.start()
        a_handle = author.handle

        def expiry(node: NodeProcess) -> float:
            states = node.json("relays", "list")
            return float(states[0]["expires"]) if states[0]["state"] == "reserved" else 0.0

        first = author.wait_for(expiry, timeout=30, what="the first reservation")
        author.wait_for(lambda n: expiry(n) > first, timeout=15, what="a renewal")
        assert a_handle in relay.json("status")["reservations"]

        relay.stop()
        author.wait_for(lambda n: n.json("relays", "list")[0]["state"] == "unreachable",
                        timeout=30, what="noticing the relay is gone")
        relay.start(listen=port_addr, verb="relay")
        author.wait_for(lambda n: n.json("relays", "list")[0]["state"] == "reserved",
                        timeout=60, what="the reservation made again")
        relay.wait_for(lambda n: a_handle in n.json("status")["reservations"], timeout=10,
                       what="the relay holding the new reservation")
        assert relay.json("status")["members"] == [a_handle]
    finally:
        author.stop()
        relay.stop()


def test_bad_invites_and_relay_addresses_get_one_clear_line(tmp_path: Path) -> None:
    node = NodeProcess.create(tmp_path / "n", name="N")
    cases = [
        (("follow", "p2ps:invite:notbase58!!"), "invite"),
        (("follow", "p2ps:invite:" + "1" * 40), "invite"),
        (("relays", "add", "/ip4/1.2.3.4/tcp/1"), "not a relay address"),
        (("relays", "remove", "/ip4/1.2.3.4/tcp/1/p2p/" + node.handle), "not one of your"),
        (("invite", "--uses", "0"), "at least 1"),
        (("relays", "frob"), "choose from 'add', 'remove', 'list'"),
        (("relay", "--policy", "closed"), "choose from 'open', 'invite', 'allowlist'"),
    ]
    for args, words in cases:
        result = node.cli(*args, check=False)
        assert result.returncode != 0, args
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and words in lines[0], (args, result.stderr)
        assert "Traceback" not in result.stderr
    assert node.json("relays", "list") == []
