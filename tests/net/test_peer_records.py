"""Signed peer records (net/peer_records.py): each record's signature is checked once, not
once per gossip message; a record that changed or does not verify is still checked in full;
my own record is built once per few seconds. Real hosts on loopback, real gossip."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

import pytest
import trio
from libp2p.peer import envelope as envelope_module
from libp2p.peer import peerstore as peerstore_module
from libp2p.pubsub import utils as pubsub_utils

from p2psocial.net import open_host, peer_records
from tests.net.helpers import config, identity, run, wait_until

pytestmark = pytest.mark.timeout(60)

TOPIC = "/p2psocial/test/records"
GOSSIP = config(enable_gossip=True)


@pytest.fixture
def validations(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Every signature check of an envelope (Envelope.validate), by domain."""
    seen: list[str] = []
    original = envelope_module.Envelope.validate

    def validate(self: Any, domain: str) -> Any:
        seen.append(domain)
        return original(self, domain)

    monkeypatch.setattr(envelope_module.Envelope, "validate", validate)
    yield seen


def test_gossip_checks_each_peer_record_once_not_per_message(validations: list[str]) -> None:
    got: list[bytes] = []

    async def main() -> None:
        async with open_host(identity("a"), GOSSIP) as a, open_host(identity("b"), GOSSIP) as b:
            await b.dial(a.listen_addrs()[0])
            queue = await b.gossip.subscribe(TOPIC)
            await a.gossip.subscribe(TOPIC)
            await wait_until(lambda: bool(a.gossip.mesh_peers(TOPIC)
                                          and b.gossip.mesh_peers(TOPIC)), timeout=10)
            before = len(validations)
            for i in range(60):
                await a.gossip.publish(TOPIC, b"head %d" % i)
            with trio.fail_after(15):
                while len(got) < 60:
                    got.append((await queue.receive()).data)
            # 60 RPCs each carried a's signed record: checked once (plus at most a record
            # re-issued meanwhile), not 60 or 120 times
            assert len(validations) - before <= 2, len(validations) - before

    run(main)
    assert sorted(got) == sorted(b"head %d" % i for i in range(60))


def test_a_record_is_checked_in_full_when_its_bytes_differ_or_it_fails(
        validations: list[str]) -> None:
    peer_records.install()
    consume = pubsub_utils.consume_envelope
    assert getattr(consume, "_p2psocial_cached", False)

    async def main() -> None:
        async with open_host(identity("c"), config()) as c, \
                open_host(identity("d"), config()) as d:
            mine = peerstore_module.issue_and_cache_local_record(c._rt.lp)
            theirs = peerstore_module.issue_and_cache_local_record(d._rt.lp)
            for data in itertools.islice(itertools.cycle([mine, theirs]), 10):
                _, record = consume(data, "libp2p-peer-record")
            assert len(validations) == 2          # two different records: two checks
            assert str(record.peer_id) == d.handle
            forged = bytearray(mine)
            forged[-1] ^= 1                       # the signature's last byte
            for _ in range(3):
                with pytest.raises(Exception):  # noqa: B017 (libp2p raises several kinds)
                    consume(bytes(forged), "libp2p-peer-record")
            assert len(validations) == 5          # a failure is never cached
            consume(mine, "libp2p-peer-record")
            assert len(validations) == 5

    run(main)


def test_my_record_is_built_once_per_few_seconds(monkeypatch: pytest.MonkeyPatch) -> None:
    peer_records.install()
    build = peerstore_module.env_to_send_in_RPC
    assert getattr(build, "_p2psocial_cached", False)

    async def main() -> None:
        async with open_host(identity("e"), config()) as e:
            lp = e._rt.lp
            calls = 0
            original = lp.get_addrs

            def get_addrs() -> Any:
                nonlocal calls
                calls += 1
                return original()

            monkeypatch.setattr(lp, "get_addrs", get_addrs)
            monkeypatch.setattr(peer_records, "RECORD_SECONDS", 0.3)
            first = build(lp)[0]
            calls = 0
            assert all(build(lp)[0] == first for _ in range(100))
            assert calls == 0                     # within the interval: no rebuild
            await trio.sleep(0.35)
            assert build(lp)[0] == first          # same addresses: same record
            assert calls >= 1                     # but libp2p looked again

    run(main)
