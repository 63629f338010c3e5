"""Nothing is kept per peer once it has gone (a relay sees followers come and go for weeks):
real hosts on loopback; bench/relay_soak.py is the long version against a relay process."""

from __future__ import annotations

from typing import Any

import trio
from libp2p.peer.id import ID

from p2psocial.net import open_host
from tests.net.helpers import config, identity, run, wait_until

TOPIC = "p2psocial/test/departed"


def sending_tasks() -> int:
    """Pubsub's per-peer sending tasks alive in this trio run."""
    count, stack = 0, [trio.lowlevel.current_root_task()]
    while stack:
        task = stack.pop()
        count += task.name.startswith("handle_sending_messages")
        for nursery in task.child_nurseries:
            stack.extend(nursery.child_tasks)
    return count


def test_a_peer_registered_twice_by_pubsub_leaves_no_sending_task_behind() -> None:
    """py-libp2p's pubsub registers a peer from two tasks at once (its new-peer handler and
    the retry a failed pubsub stream schedules while the peer is still connected); the second
    registration replaced the first one's outbound queue, whose sending task then waited on it
    forever. Here both run as libp2p runs them, then the peer leaves: no sending task stays."""

    async def main() -> None:
        async with open_host(identity("server"), config(enable_gossip=True)) as server, \
                open_host(identity("client"), config(enable_gossip=True)) as client:
            pubsub = server._rt.gossip._pubsub  # type: ignore[union-attr]
            await server.gossip.subscribe(TOPIC)
            await client.gossip.subscribe(TOPIC)
            peer = ID.from_base58(client.handle)
            await client.dial(server.listen_addrs()[0])
            await wait_until(lambda: peer in pubsub.peers, timeout=10)
            # its pubsub stream failed while the connection lives: libp2p forgets the peer and
            # schedules a retry; meanwhile its new-peer handler runs for the same peer
            pubsub._handle_dead_peer(peer)
            async with trio.open_nursery() as nursery:
                nursery.start_soon(pubsub._handle_new_peer_with_retry, peer)
            await wait_until(lambda: peer in pubsub.peers, timeout=10)
            await client.disconnect(server.handle)
            await wait_until(lambda: peer not in pubsub.peers, timeout=10)
            await wait_until(lambda: sending_tasks() == 0, timeout=10)

    run(main, timeout=60)


def test_the_stopped_auto_connector_keeps_nothing_per_departed_peer() -> None:
    """The swarm tells its auto-connector (stopped: the node decides whom to dial) of every
    disconnection; only the connector's own loop ever forgot them."""

    async def main() -> None:
        async with open_host(identity("server"), config()) as server:
            connector = server._rt.lp.get_network().auto_connector  # type: ignore[union-attr]
            for n in range(8):
                async with open_host(identity(f"visitor{n}"), config()) as visitor:
                    await visitor.dial(server.listen_addrs()[0])
                    await visitor.disconnect(server.handle)
                    await wait_until(lambda v=visitor: not server.is_connected(v.handle),
                                     timeout=10)
            assert not connector._recent_disconnects

    run(main, timeout=60)


def test_peers_that_left_and_stayed_away_leave_the_peerstore() -> None:
    """libp2p's peerstore kept an entry for every peer that ever connected (py-libp2p never
    starts its cleanup): a relay grew by one per follower that ever came. A peer gone for
    `forget_peer_seconds` is forgotten; one still connected is not."""

    async def main() -> None:
        async with open_host(identity("server"), config(forget_peer_seconds=0.5)) as server, \
                open_host(identity("stayer"), config()) as stayer:
            store = server._rt.lp.get_peerstore()  # type: ignore[union-attr]
            await stayer.dial(server.listen_addrs()[0])
            visitors = []
            for n in range(8):
                async with open_host(identity(f"passer{n}"), config()) as visitor:
                    await visitor.dial(server.listen_addrs()[0])
                    visitors.append(ID.from_base58(visitor.handle))
                    await wait_until(lambda: store.has_peer(visitors[-1]), timeout=10)
                    await visitor.disconnect(server.handle)
                    await wait_until(lambda v=visitor: not server.is_connected(v.handle),
                                     timeout=10)
            await wait_until(lambda: not any(store.has_peer(v) for v in visitors), timeout=10)
            assert store.has_peer(ID.from_base58(stayer.handle))
            departed = server._rt.departed
            assert departed is not None
            await wait_until(lambda: departed.remembered == 0, timeout=10)
            # a peer forgotten can come back (its dial names its address)
            async with open_host(identity("passer0"), config()) as back:
                await back.dial(server.listen_addrs()[0])
                assert server.is_connected(back.handle)

    run(main, timeout=60)


def protocols_of(store: Any, peer: ID) -> list[str]:
    """The peer's protocols in `store` (none if it is not there)."""
    return list(store.get_protocols(peer)) if store.has_peer(peer) else []


def envelopes_cached_of(peer: ID) -> int:
    """Signed records of `peer` in the process's envelope cache (net/peer_records.py)."""
    from libp2p.peer import envelope

    cache = getattr(envelope.consume_envelope, "cache", {})
    return sum(1 for _env, record in cache.values() if record.peer_id == peer)


def test_a_departed_peer_keeps_only_what_a_redial_needs_until_it_is_forgotten() -> None:
    """A relay keeps a departed peer for `forget_peer_seconds` (600 s): with followers
    arriving ~1/s that is ~650 peers at once, and each kept its whole entry (protocols,
    metadata, signed record) and its record in the envelope cache. Once it has gone only its
    addresses and key stay for the window; the rest goes at once (identify brings it back)."""

    async def main() -> None:
        async with open_host(identity("server"), config(enable_gossip=True)) as server:
            lp = server._rt.lp  # type: ignore[union-attr]
            store = lp.get_peerstore()
            await server.gossip.subscribe(TOPIC)
            async with open_host(identity("leaver"), config(enable_gossip=True)) as visitor:
                peer = ID.from_base58(visitor.handle)
                await visitor.gossip.subscribe(TOPIC)
                await visitor.dial(server.listen_addrs()[0])
                await wait_until(lambda: bool(protocols_of(store, peer))
                                 and store.get_peer_record(peer) is not None
                                 and envelopes_cached_of(peer) > 0, timeout=10)
                store.put(peer, "agent", "visitor/1")  # metadata, as identify may keep
                await visitor.disconnect(server.handle)
                await wait_until(lambda: not server.is_connected(visitor.handle), timeout=10)
                await wait_until(lambda: not protocols_of(store, peer), timeout=10)
                assert store.peer_data_map[peer].metadata == {}
                assert peer not in store.peer_record_map
                assert envelopes_cached_of(peer) == 0
                # what a redial needs stays for the window
                assert store.addrs(peer)
                assert store.pubkey(peer) is not None
                # and it comes back whole
                await visitor.dial(server.listen_addrs()[0])
                await wait_until(lambda: bool(protocols_of(store, peer))
                                 and store.get_peer_record(peer) is not None, timeout=10)

    run(main, timeout=60)
