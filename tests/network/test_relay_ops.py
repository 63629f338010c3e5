"""Operating a relay and living with bad ones (issue 10, items 6 and 7). Every node is its
own OS process; where a follower must not reach an author directly, they sit in separate
network namespaces (private hosts reach only public ones)."""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import trio

from p2psocial.core.errors import NetError
from p2psocial.core.identity import Identity
from p2psocial.core.invite import decode_invite
from p2psocial.core.relay_policy import Policy
from p2psocial.net import DhtMode, HostConfig, open_host
from p2psocial.net.autonat import DIALBACKS_PER_MINUTE, REFUSED, decode_response, encode_request
from p2psocial.net.autonat import PROTOCOL as REACH_PROTOCOL
from p2psocial.runtime.relay_card import relay_card
from p2psocial.store.sqlite import Store
from p2psocial.testing.netns import Internet, NetnsUnavailable
from p2psocial.testing.nodes import NodeProcess

PORT = 4001
LOOPBACK = HostConfig(listen_addrs=("/ip4/127.0.0.1/tcp/0",), dht_mode=DhtMode.OFF,
                      enable_gossip=False, dial_timeout=5.0, stream_open_timeout=5.0,
                      read_timeout=10.0, write_timeout=10.0)


# --- `p2psocial relay` prints what to share --------------------------------------------------

def _card(out: Path, proc: subprocess.Popen[bytes], err: Path) -> dict[str, str]:
    """The relay's stdout lines `key: value`, once the join line is there."""
    deadline = time.monotonic() + 30
    while True:
        text = out.read_text() if out.exists() else ""
        if "to join" in text:
            return dict(line.split(": ", 1) for line in text.splitlines() if ": " in line)
        assert proc.poll() is None, err.read_text()
        assert time.monotonic() < deadline, f"no card on stdout:\n{text}\n{err.read_text()}"
        time.sleep(0.1)


def _run_relay(home: NodeProcess, tag: str, *extra: str
               ) -> tuple[subprocess.Popen[bytes], dict[str, str]]:
    out, err = home.home.parent / f"{tag}.out", home.home.parent / f"{tag}.err"
    with out.open("wb") as o, err.open("wb") as e:
        proc = subprocess.Popen(
            [sys.executable, "-m", "p2psocial", "relay", "--no-mdns", *extra],
            env=home.env, stdout=o, stderr=e, stdin=subprocess.DEVNULL)
    return proc, _card(out, proc, err)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def relay_state(node: NodeProcess, addr: str) -> str:
    states = {r["addr"]: r["state"] for r in node.json("relays", "list")}
    return states.get(addr, "missing")


@pytest.mark.slow
def test_relay_prints_its_address_and_a_join_invite_that_admits(tmp_path: Path) -> None:
    relay = NodeProcess.create(tmp_path / "r", name="R")
    r_handle = relay.handle
    proc, card = _run_relay(relay, "r1", "--policy", "invite",
                            "--listen", "/ip4/0.0.0.0/tcp/0")
    try:
        addr = card["relay address"]
        assert addr.endswith(f"/p2p/{r_handle}") and addr.startswith("/ip4/")
        listening = relay.json("status")["listen"]
        assert addr in listening
        if any("/ip4/127." not in a for a in listening):  # loopback only when nothing else
            assert "/ip4/127." not in addr and not any(
                "/ip4/127." in v for k, v in card.items() if k == "also reachable at")
        token = card["join invite"]
        assert card["to join"] == f"p2psocial relays add {addr} --invite {token}"

        # the printed line, used as printed, makes a member with a reservation
        joiner = NodeProcess.create(tmp_path / "j", name="J")
        joiner.cli(*card["to join"].split()[1:])
        # without the token the same relay refuses
        stranger = NodeProcess.create(tmp_path / "s", name="S")
        stranger.cli("relays", "add", addr)
        with joiner, stranger:
            joiner.start()
            stranger.start()
            joiner.wait_for(lambda n: relay_state(n, addr) == "reserved", timeout=30,
                            what="a reservation with the printed invite")
            stranger.wait_for(lambda n: relay_state(n, addr) == "refused", timeout=30,
                              what="a refusal without it")
            assert joiner.handle in relay.json("status")["members"]
    finally:
        _stop(proc)


@pytest.mark.asyncio
async def test_the_card_keeps_one_token_and_shares_public_addresses_first(tmp_path: Path
                                                                           ) -> None:
    me = Identity.generate()
    store = await Store.open(tmp_path / "r.db")
    try:
        lan, public, loop = ("/ip4/10.1.2.3/tcp/4001/p2p/R", "/ip4/93.184.216.34/tcp/4001/p2p/R",
                             "/ip4/127.0.0.1/tcp/4001/p2p/R")
        first = await relay_card(store, me, Policy.INVITE, [loop, lan, public])
        assert first.addrs == [public, lan]
        again = await relay_card(store, me, Policy.INVITE, [loop, lan])  # moved: same nonce
        assert first.token is not None and again.token is not None
        assert decode_invite(again.token).nonce == decode_invite(first.token).nonce
        assert decode_invite(again.token).addrs == (lan,)
        open_card = await relay_card(store, me, Policy.OPEN, [loop])
        assert open_card.addrs == [loop] and open_card.token is None
        assert "the address suffices" in open_card.lines()[-1]
    finally:
        await store.close()


# --- bootstrap relays ------------------------------------------------------------------------

@pytest.fixture
def internet() -> Iterator[Internet]:
    try:
        with Internet("ro") as net:
            yield net
    except NetnsUnavailable as exc:  # pragma: no cover - CI runs as root with iproute2
        pytest.fail(f"these tests need network namespaces: {exc}")


class World:
    """Nodes in namespaces, stopped at the end."""

    def __init__(self, net: Internet, tmp: Path) -> None:
        self.net = net
        self.tmp = tmp
        self.nodes: list[NodeProcess] = []

    def node(self, name: str, *, public: bool, config: dict[str, object] | None = None
             ) -> NodeProcess:
        if public:
            self.net.public(name)
        else:
            self.net.private(name)
        node = NodeProcess.create(self.tmp / name, name=name.upper(), netns=self.net.ns(name))
        node.home.joinpath("config.json").write_text(
            json.dumps({"look_seconds": 1.0, **(config or {})}))
        self.nodes.append(node)
        return node

    def start(self, node: NodeProcess, *, relay: bool = False, extra: tuple[str, ...] = ()
              ) -> str:
        ip = self.net.ip(node.home.name)
        node.start(listen=f"/ip4/{ip}/tcp/{PORT}", verb="relay" if relay else "run",
                   extra=extra)
        return f"/ip4/{ip}/tcp/{PORT}/p2p/{node.handle}"

    def addr(self, node: NodeProcess) -> str:
        return f"/ip4/{self.net.ip(node.home.name)}/tcp/{PORT}/p2p/{node.handle}"

    def close(self) -> None:
        for node in self.nodes:
            node.stop()


@pytest.fixture
def world(internet: Internet, tmp_path: Path) -> Iterator[World]:
    made = World(internet, tmp_path)
    yield made
    made.close()


def _published_relays(node: NodeProcess) -> str:
    """What the node's signed `relays` entries say, as text."""
    entries = node.json("log", "--limit", "1000")["entries"]
    return json.dumps([e for e in entries if e["type"] == "relays"])


def _relayed_peer(node: NodeProcess, handle: str) -> bool:
    return any(p["handle"] == handle and p["kind"] == "relayed" for p in node.json("peers"))


def _lines(node: NodeProcess, *words: str) -> list[str]:
    return [line for line in node.log().splitlines() if all(w in line for w in words)]


@pytest.mark.slow
def test_bootstrap_relay_until_one_of_mine_reserves_and_bad_relays_cost_one_line(
        world: World) -> None:
    """A private node with no relays reserves on its bootstrap relay (which expires
    reservations after 2 s) and is reached through its circuit; a relay of its own that
    refuses does not end that, an honest one does; the bootstrap relay then dies mid-circuit
    and the follower still gets posts through the honest relay. Each bad relay costs one line."""
    r1 = world.node("r1", public=True, config={"relay_policy": "allowlist"})  # admits nobody
    r2 = world.node("r2", public=True, config={"relay_reservation_ttl": 2})
    r3 = world.node("r3", public=True)
    r1_addr, r2_addr, r3_addr = (world.start(r, relay=True) for r in (r1, r2, r3))
    a = world.node("a", public=False, config={"bootstrap_relays": [r2_addr]})
    b = world.node("b", public=False)
    a.cli("post", "a1 reachable through a bootstrap relay")
    a_handle = a.handle
    world.start(a)
    a.wait_for(lambda n: relay_state(n, r2_addr) == "reserved", timeout=30,
               what="a's reservation on the bootstrap relay")
    assert _published_relays(a) == "[]"  # not in a's signed log

    def r2_expiry(node: NodeProcess) -> float:
        return float({r["addr"]: r for r in node.json("relays", "list")}[r2_addr]["expires"])

    first = r2_expiry(a)
    a.wait_for(lambda n: r2_expiry(n) > first + 3, timeout=20,
               what="a renewing its short reservations on r2 a few times")

    # B (private too) reaches A through the bootstrap relay's circuit
    world.start(b)
    b.cli("follow", a_handle, "--unknown")
    # r2 lets a reservation lapse after 2 s and A renews it at 80 %: a dial that lands in the
    # gap is told NO_RESERVATION (204), as a user would be; like a user, B tries again
    circuit = f"{r2_addr}/p2p-circuit/p2p/{a_handle}"
    b.wait_for(lambda n: n.cli("connect", circuit, check=False).returncode == 0, timeout=30,
               what="b's circuit to a through r2")
    b.wait_for(lambda n: _relayed_peer(n, a_handle), timeout=30, what="b relayed to a")
    b.wait_for(lambda n: "a1 reachable through a bootstrap relay" in n.texts(a_handle),
               timeout=30, what="a1 at b")

    # a relay of A's own that refuses: the bootstrap relay stays
    a.cli("relays", "add", r1_addr)
    a.wait_for(lambda n: relay_state(n, r1_addr) == "refused", timeout=30, what="r1 refusing")
    assert relay_state(a, r2_addr) == "reserved"
    # an honest one: the bootstrap relay is let go, and never was published
    a.cli("relays", "add", r3_addr)
    a.wait_for(lambda n: relay_state(n, r3_addr) == "reserved"
               and relay_state(n, r2_addr) == "missing", timeout=30,
               what="a's own reservation on r3, the bootstrap relay let go")
    published = _published_relays(a)
    assert r3_addr in published and r1_addr in published and r2_addr not in published

    # the bootstrap relay dies under B's circuit to A: new posts reach B through r3
    r2.kill()
    a.cli("post", "a2 after the circuit's relay died")
    b.wait_for(lambda n: "a2 after the circuit's relay died" in n.texts(a_handle),
               timeout=40, what="a2 at b through r3")
    assert relay_state(a, r3_addr) == "reserved"
    assert len(_lines(a, "holding one on the bootstrap relays")) == 1
    assert len(_lines(a, r1_addr, "refused")) == 1, _lines(a, r1_addr)
    assert len(_lines(a, r2_addr, "reserved")) == 1, _lines(a, r2_addr)  # not per renewal
    assert len(_lines(a, r2_addr, "grants reservations of only")) == 1, _lines(a, r2_addr)
    assert "Traceback" not in a.log()
    # the open relay printed its address and that no invite is needed
    assert f"relay address: {r3_addr}" in r3.log()
    assert "the address suffices" in r3.log()


# --- a peer flooding reachability checks (dial-backs) ---------------------------------------

def test_a_peer_flooding_dial_back_requests_is_refused_with_one_line(tmp_path: Path) -> None:
    node = NodeProcess.create(tmp_path / "n", name="N")
    with node:
        node.start()
        addr = node.addrs()[0]
        server = node.handle
        answers: list[int] = []

        async def flood() -> None:
            async with open_host(Identity.generate(), LOOPBACK) as host:
                await host.dial(addr)
                port = int(host.listen_addrs()[0].split("/tcp/")[1].split("/")[0])
                for i in range(60):
                    channel = await host.open_stream(server, REACH_PROTOCOL)
                    async with channel:
                        if i % 3 == 2:  # a malformed request: the server resets the stream
                            await channel.send_all(b"\x00")
                            await channel.send_eof()
                            with contextlib.suppress(NetError):
                                await channel.receive_some()
                            continue
                        await channel.send_all(encode_request(port))
                        await channel.send_eof()
                        data = b""
                        while chunk := await channel.receive_some():
                            data += chunk
                        answers.append(decode_response(data)[0])

        trio.run(flood)
        dialled = [a for a in answers if a != REFUSED]
        assert len(answers) == 40 and len(dialled) <= DIALBACKS_PER_MINUTE, answers
        lines = [line for line in node.log().splitlines() if "reach check" in line]
        # one line for the flood, one for the 20 malformed requests (not 20)
        assert len(lines) == 2 and sum("a minute" in line for line in lines) == 1, lines
        assert node.json("status")["handle"] == server  # the node works on
