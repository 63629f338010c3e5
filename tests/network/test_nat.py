"""Hole punching behind real NAT: homes behind iptables MASQUERADE routers in network
namespaces (p2psocial/testing/nat.py), a public relay, and bare p2psocial hosts as OS
processes (p2psocial/testing/natpeer.py). One world per test module keeps it to ~40 s:

    relay, P (public)        on the Internet
    A, B behind port-preserving NATs (ra, rb); C behind a symmetric NAT (rc)

and, for the last test, whole p2psocial nodes (the CLI, `peers`, `status`) in the same
Internet: relay node R, author N behind port-preserving NAT rn, follower F behind rf.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from p2psocial.net.autonat import (
    REACHABLE,
    REFUSED,
    UNREACHABLE,
    decode_request,
    decode_response,
    encode_request,
    encode_response,
)
from p2psocial.testing.nat import Nat, NatInternet, NetnsUnavailable
from p2psocial.testing.natpeer import NatPeerProcess
from p2psocial.testing.nodes import NodeProcess

pytestmark = pytest.mark.slow


def _tcp(net: NatInternet, name: str, ip: str, port: int, *, source_port: int = 0) -> str:
    """Connect from inside `name` to ip:port (2 s); "ok" or the error's name."""
    code = ("import socket\ns=socket.socket();s.settimeout(2)\n"
            f"s.bind(('0.0.0.0',{source_port}))\n"
            f"try:\n s.connect(('{ip}',{port}));print('ok')\n"
            "except OSError as e:\n print(type(e).__name__)")
    return net.run(name, sys.executable, "-c", code).strip()


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    logs = tmp_path_factory.mktemp("nat")
    procs: list[NatPeerProcess] = []
    try:
        with NatInternet("nt") as net:
            relay_ip = net.public("relay")
            net.public("p")
            net.router("ra", nat=Nat.PRESERVING)
            net.behind("a", "ra")
            net.router("rb", nat=Nat.PRESERVING)
            net.behind("b", "rb")
            net.router("rc", nat=Nat.SYMMETRIC)
            net.behind("c", "rc")
            try:
                relay = NatPeerProcess(net, "relay", logs / "relay.log",
                                       "relay", "--listen", relay_ip)
                procs.append(relay)
                relay_addr = relay.until(lambda r: "addr" in r)["addr"]
                peers = {n: NatPeerProcess(net, n, logs / f"{n}.log", "peer", "--relay", relay_addr)
                         for n in ("a", "p")}
                procs.extend(peers.values())
                handles = {n: p.until(lambda r: "ready" in r)["handle"]
                           for n, p in peers.items()}
                for n in ("b", "c"):   # both dial A through the relay and try to punch
                    peers[n] = NatPeerProcess(net, n, logs / f"{n}.log", "peer",
                                              "--relay", relay_addr, "--target", handles["a"])
                    procs.append(peers[n])
                yield {"net": net, "peers": peers, "relay_ip": relay_ip}
            finally:
                for proc in procs:
                    proc.stop()
    except NetnsUnavailable as exc:  # pragma: no cover - CI runs as root with iptables
        pytest.fail(f"these tests need network namespaces and iptables: {exc}")


def test_homes_reach_the_internet_only_through_their_nat(world: dict[str, Any]) -> None:
    net: NatInternet = world["net"]
    relay_ip = world["relay_ip"]
    # the relay sees each home at its router's public address
    assert net.public_ip("a") == net.ip("ra") != net.ip("a")
    assert _tcp(net, "a", relay_ip, 4001) == "ok"
    # nothing reaches a home unasked: A cannot dial B's router, nor the public P a home
    assert _tcp(net, "a", net.ip("rb"), 4001) == "TimeoutError"
    assert _tcp(net, "p", net.ip("ra"), 4001) == "TimeoutError"
    assert _tcp(net, "a", net.ip("b"), 4001) in ("TimeoutError", "OSError")


def test_port_preserving_nat_keeps_the_source_port_and_symmetric_does_not(
        world: dict[str, Any]) -> None:
    net: NatInternet = world["net"]
    seen = subprocess.Popen(
        ["ip", "netns", "exec", net.ns("p"), sys.executable, "-c",
         "import socket\ns=socket.socket();s.setsockopt(socket.SOL_SOCKET,"
         "socket.SO_REUSEADDR,1)\ns.bind(('0.0.0.0',5000));s.listen()\n"
         "for i in range(2):\n c,a=s.accept();print(a[1],flush=True);c.close()"],
        stdout=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 20
        while _tcp(net, "a", net.ip("p"), 5000, source_port=41001) != "ok":
            assert time.monotonic() < deadline, "the test server did not start"
            time.sleep(0.2)
        assert _tcp(net, "c", net.ip("p"), 5000, source_port=41002) == "ok"
        out, _ = seen.communicate(timeout=20)
    finally:
        seen.kill()
        seen.communicate()
    preserved, randomised = (int(p) for p in out.split())
    assert preserved == 41001
    assert randomised != 41002


def test_reachability_says_private_behind_nat_and_public_on_the_internet(
        world: dict[str, Any]) -> None:
    net: NatInternet = world["net"]
    peers: dict[str, NatPeerProcess] = world["peers"]
    a = next(r for r in peers["a"].reports if "reachability" in r)
    p = next(r for r in peers["p"].reports if "reachability" in r)
    assert a["reachability"] == "private"
    assert a["observed"].startswith(f"/ip4/{net.ip('ra')}/tcp/")   # its NAT's address
    assert p["reachability"] == "public"
    assert p["observed"].startswith(f"/ip4/{net.ip('p')}/tcp/")


def test_hole_punching_upgrades_a_relayed_connection_behind_port_preserving_nats(
        world: dict[str, Any]) -> None:
    net: NatInternet = world["net"]
    b: NatPeerProcess = world["peers"]["b"]
    assert b.until(lambda r: "route" in r)["route"] == "relayed"
    done = b.until(lambda r: "upgraded" in r)
    assert done["upgraded"] is True
    assert done["route"] == "hole-punched"
    # through A's NAT, at A's listen port there (predicted from the relay's observation)
    assert done["remote"] == f"/ip4/{net.ip('ra')}/tcp/4001"
    after = b.until(lambda r: "echo" in r)
    assert after == {"echo": True, "route": "hole-punched"}


def test_symmetric_nat_falls_back_to_the_relayed_connection(world: dict[str, Any]) -> None:
    c: NatPeerProcess = world["peers"]["c"]
    assert c.until(lambda r: "route" in r)["route"] == "relayed"
    done = c.until(lambda r: "upgraded" in r, timeout=90)
    assert done["upgraded"] is False
    assert done["route"] == "relayed"
    assert done["remote"] == ""
    assert c.until(lambda r: "echo" in r) == {"echo": True, "route": "relayed"}


def test_reach_messages_are_byte_exact() -> None:
    # docs/protocol.md, "Reachability check": the vectors there
    assert encode_request(4001).hex() == "0fa1"
    assert decode_request(bytes.fromhex("0fa1")) == 4001
    assert encode_response(REACHABLE, "/ip4/1.2.3.4/tcp/5").hex() == \
        "012f6970342f312e322e332e342f7463702f35"
    assert decode_response(bytes.fromhex("00")) == (UNREACHABLE, "")
    assert decode_response(bytes.fromhex("02")) == (REFUSED, "")
    for bad in (b"", b"\x00", b"\x00\x00\x01", b"\x00\x00"):
        with pytest.raises(ValueError):
            decode_request(bad)
    for bad in (b"", b"\x03", b"\x01" + b"x" * 201):
        with pytest.raises(ValueError):
            decode_response(bad)


def _peer_kind(node: NodeProcess, handle: str) -> str:
    return next((p["kind"] for p in node.json("peers") if p["handle"] == handle), "")


def _session_on(node: NodeProcess, handle: str) -> str:
    """The connection a node's sync session with `handle` runs on: relayed / direct / ""."""
    return next((p["session"] for p in node.json("peers") if p["handle"] == handle), "")


def test_nodes_show_the_hole_punched_route_and_that_they_are_behind_nat(
        world: dict[str, Any], tmp_path: Path) -> None:
    net: NatInternet = world["net"]
    relay_ip = net.public("nr")
    net.router("rn", nat=Nat.PRESERVING)
    n_ip = net.behind("n", "rn")
    net.router("rf", nat=Nat.PRESERVING)
    f_ip = net.behind("f", "rf")
    nodes = {name: NodeProcess.create(tmp_path / name, name=name.upper(), netns=net.ns(name))
             for name in ("nr", "n", "f")}
    for node in nodes.values():
        node.home.joinpath("config.json").write_text(json.dumps({"look_seconds": 1.0}))
    r, n, f = nodes["nr"], nodes["n"], nodes["f"]
    try:
        r.start(listen=f"/ip4/{relay_ip}/tcp/4001", verb="relay")
        r_addr = f"/ip4/{relay_ip}/tcp/4001/p2p/{r.handle}"
        n.cli("relays", "add", r_addr)
        n.cli("post", "n1 from behind a NAT")
        n.start(listen=f"/ip4/{n_ip}/tcp/4001")
        n.wait_for(lambda x: any(s["state"] == "reserved" for s in x.json("relays", "list")),
                   timeout=30, what="n's reservation on the relay")
        f.cli("follow", n.cli("invite").stdout.strip())
        f.start(listen=f"/ip4/{f_ip}/tcp/4001")
        f.wait_for(lambda x: "n1 from behind a NAT" in x.texts(n.handle), timeout=30,
                   what="n1 through the relay")
        # the relay keeps n's posts, so f may not have needed n itself: reach n through it
        f.cli("connect", f"{r_addr}/p2p-circuit/p2p/{n.handle}")
        f.wait_for(lambda x: _peer_kind(x, n.handle) == "hole-punched", timeout=30,
                   what="the relayed connection to n upgraded by hole punching")
        # spec L4: the sync session leaves the relay for the direct connection, both sides
        f.wait_for(lambda x: _session_on(x, n.handle) == "direct", timeout=30,
                   what="f's session with n moved to the direct connection")
        n.wait_for(lambda x: _session_on(x, f.handle) == "direct", timeout=30,
                   what="n's session with f moved to the direct connection")
        n.cli("post", "n2 after the upgrade")
        f.wait_for(lambda x: "n2 after the upgrade" in x.texts(n.handle), timeout=20,
                   what="n2 over the hole-punched connection")
        n.wait_for(lambda x: x.json("status")["reachability"] == "private", timeout=30,
                   what="n learning it is behind NAT")
        assert n.json("status")["observed"].startswith(f"/ip4/{net.ip('rn')}/tcp/")
        r.wait_for(lambda x: x.json("status")["reachability"] == "public", timeout=30,
                   what="the relay learning it is reachable")
    finally:
        for node in nodes.values():
            node.stop()
