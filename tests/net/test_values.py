"""Value objects and pure helpers of p2psocial.net: no sockets."""

from __future__ import annotations

import hashlib

import pytest
import trio
from libp2p.peer.id import ID

from p2psocial.core.errors import NetError, UsageError
from p2psocial.core.identity import Identity
from p2psocial.net import (
    AddressError,
    DialFailed,
    DialTimeout,
    DropOldestQueue,
    HostConfig,
    PeerInfo,
    StreamOpenFailed,
    StreamOpenTimeout,
    Timeout,
    feed_provider_key,
)
from p2psocial.net.addresses import is_relayed, merge, parse_peer_addr, peer_id
from p2psocial.net.build import key_pair
from tests.net.helpers import identity

pytestmark = pytest.mark.timeout(30)

ALICE = identity("alice").handle
RELAY = identity("relay").handle


def test_the_libp2p_peer_id_of_an_identity_is_its_handle() -> None:
    ident = Identity.generate()
    keys = key_pair(ident)
    assert str(ID.from_pubkey(keys.public_key)) == ident.handle
    assert keys.public_key.to_bytes() == ident.public_key


def test_parse_peer_addr_splits_peer_and_transport_address() -> None:
    info = parse_peer_addr(f"/ip4/127.0.0.1/tcp/4001/p2p/{ALICE}")
    assert info == PeerInfo(ALICE, ("/ip4/127.0.0.1/tcp/4001",))
    assert info.full_addrs() == [f"/ip4/127.0.0.1/tcp/4001/p2p/{ALICE}"]


def test_parse_peer_addr_keeps_the_relay_part_of_a_circuit_address() -> None:
    text = f"/ip4/1.2.3.4/tcp/4001/p2p/{RELAY}/p2p-circuit/p2p/{ALICE}"
    info = parse_peer_addr(text)
    assert info.peer == ALICE
    assert info.addrs == (f"/ip4/1.2.3.4/tcp/4001/p2p/{RELAY}/p2p-circuit",)
    assert is_relayed(info.addrs[0])
    assert not is_relayed("/ip4/1.2.3.4/tcp/4001")


@pytest.mark.parametrize("text", [
    "", "garbage", "/ip4/1.2.3.4/tcp/99999/p2p/" + ALICE, "/ip4/1.2.3.4/tcp/1",
    "/ip4/1.2.3.4/tcp/1/p2p/notapeer0", "/ip4/1.2.3.4/tcp/1/p2p/abc",
])
def test_bad_addresses_raise_address_error(text: str) -> None:
    with pytest.raises(AddressError):
        parse_peer_addr(text)


def test_peer_id_accepts_handles_and_rejects_other_base58() -> None:
    assert str(peer_id(ALICE)) == ALICE
    for bad in ("abc", "0OIl", "", "12D3KooW"):
        with pytest.raises(AddressError):
            peer_id(bad)


def test_merge_keeps_one_entry_per_peer_with_all_addresses() -> None:
    merged = merge([PeerInfo(ALICE, ("/a",)), PeerInfo(RELAY, ("/r",)),
                    PeerInfo(ALICE, ("/a", "/b"))])
    assert merged == [PeerInfo(ALICE, ("/a", "/b")), PeerInfo(RELAY, ("/r",))]


def test_feed_provider_key_is_a_sha256_multihash_of_the_domain_and_key() -> None:
    feed = bytes(range(32))
    key = feed_provider_key(feed)
    assert key == b"\x12\x20" + hashlib.sha256(b"/p2psocial/feed/" + feed).digest()
    assert key.hex() == ("1220f2741b418626afe5f054cf043fbe2d63dbc8004356094f29e0cf93cc"
                         "ef2a1986")
    with pytest.raises(ValueError):
        feed_provider_key(b"short")


def test_libp2p_reads_our_provider_key_back_as_the_same_bytes() -> None:
    from libp2p.kad_dht.kad_dht import _encode_key

    key = feed_provider_key(bytes(32))
    assert _encode_key(key.hex()) == key
    # The CIDv1 (raw, sha2-256) of the same bytes names the same DHT key.
    from libp2p.bitswap.cid import compute_cid_v1_obj

    cid = compute_cid_v1_obj(b"/p2psocial/feed/" + bytes(32))
    assert _encode_key(str(cid)) == key


def test_config_rejects_bad_values() -> None:
    with pytest.raises(AddressError):
        HostConfig(listen_addrs=("nonsense",))
    with pytest.raises(AddressError):
        HostConfig(bootstrap_peers=("/ip4/1.2.3.4/tcp/1",))
    with pytest.raises(UsageError):
        HostConfig(dial_timeout=0)
    with pytest.raises(UsageError):
        HostConfig(read_timeout=-1)
    assert HostConfig(read_timeout=None).read_timeout is None


def test_error_tree() -> None:
    assert issubclass(DialTimeout, DialFailed) and issubclass(DialTimeout, Timeout)
    assert issubclass(StreamOpenTimeout, StreamOpenFailed)
    assert issubclass(StreamOpenTimeout, Timeout)
    assert issubclass(AddressError, NetError)


def test_drop_oldest_queue_never_blocks_and_counts_drops() -> None:
    async def main() -> None:
        queue: DropOldestQueue[int] = DropOldestQueue(3)
        for i in range(5):
            queue.put_nowait(i)
        assert queue.dropped == 2
        assert [await queue.receive() for _ in range(3)] == [2, 3, 4]
        with pytest.raises(trio.WouldBlock):
            queue.receive_nowait()
        queue.put_nowait(9)
        queue.close()
        queue.put_nowait(10)  # ignored after close
        assert [item async for item in queue] == [9]
        with pytest.raises(trio.EndOfChannel):
            await queue.receive()

    trio.run(main)


def test_drop_oldest_queue_wakes_a_waiting_receiver() -> None:
    async def main() -> None:
        queue: DropOldestQueue[str] = DropOldestQueue(1)
        got: list[str] = []

        async def consume() -> None:
            got.extend([item async for item in queue])

        async with trio.open_nursery() as nursery:
            nursery.start_soon(consume)
            await trio.sleep(0.01)
            queue.put_nowait("a")
            await trio.sleep(0.01)
            queue.close()
        assert got == ["a"]
        assert queue.statistics().closed

    trio.run(main)


def test_a_huge_bad_address_is_not_echoed_whole() -> None:
    junk = "/ip4/" + "9" * 70_000
    with pytest.raises(AddressError) as caught:
        parse_peer_addr(junk)
    assert len(str(caught.value)) < 300 and "70,005 characters" in str(caught.value)
