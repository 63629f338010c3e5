"""The Kademlia DHT across 6 real hosts: bootstrap, find_peer, provide / find_providers."""

from __future__ import annotations

import time
from contextlib import AsyncExitStack

import pytest
import trio

from p2psocial.net import DhtMode, HostClosed, PeerInfo, open_host
from tests.net.helpers import config, identity, run, wait_until

pytestmark = pytest.mark.timeout(60)

SERVER = config(dht_mode=DhtMode.SERVER, dht_timeout=5.0)
CLIENT = config(dht_mode=DhtMode.CLIENT, dht_timeout=5.0)


def test_find_peer_and_feed_providers_across_a_small_dht() -> None:
    figures: dict[str, float] = {}

    async def main() -> None:
        async with AsyncExitStack() as stack:
            h0 = await stack.enter_async_context(open_host(identity("dht0"), SERVER))
            boot = h0.listen_addrs()[0]
            others = [await stack.enter_async_context(open_host(identity(f"dht{i}"), SERVER))
                      for i in (1, 2, 3)]
            h1, h2, h3 = others
            for host in others:
                assert await host.bootstrap([boot]) == [h0.handle]
            assert all(h.dht.routing_table_size() >= 1 for h in others)
            await wait_until(lambda: h0.dht.routing_table_size() >= 3, timeout=5)

            # A late joiner knows only h3; pick a searcher that has never seen it.
            x = await stack.enter_async_context(open_host(identity("late"), SERVER))
            # libp2p's DHT looks itself up once as it starts: let X do that while it knows
            # nobody, or it would meet every server at once.
            await trio.sleep(0.5)
            size_before = h3.dht.routing_table_size()
            await x.dial(h3.listen_addrs()[0])
            await wait_until(lambda: h3.dht.routing_table_size() > size_before, timeout=5)
            searcher = next(h for h in (h1, h2, h0)
                            if not h.is_connected(x.handle) and not h.known_addrs(x.handle))

            start = time.perf_counter()
            found = await searcher.dht.find_peer(x.handle)
            figures["find_peer ms"] = (time.perf_counter() - start) * 1000
            assert found is not None and found.peer == x.handle
            assert set(found.addrs) & {a.rsplit("/p2p/", 1)[0] for a in x.listen_addrs()}
            await searcher.dial(found)  # the addresses found are dialable

            nobody = identity("nobody").handle
            start = time.perf_counter()
            assert await h2.dht.find_peer(nobody) is None
            figures["find_peer (absent) ms"] = (time.perf_counter() - start) * 1000

            # Provider records: X and h2 hold a feed; h0 and a DHT client find both, once each.
            feed = identity("author").public_key
            start = time.perf_counter()
            assert await x.dht.provide(feed)
            figures["provide ms"] = (time.perf_counter() - start) * 1000
            assert await h2.dht.provide(feed)
            start = time.perf_counter()
            providers = await h0.dht.find_providers(feed)
            figures["find_providers ms"] = (time.perf_counter() - start) * 1000
            assert sorted(p.peer for p in providers) == sorted([x.handle, h2.handle])
            assert all(p.addrs for p in providers)
            # A holder announced later is found too (libp2p's own find_providers would keep
            # answering from h0's local cache of the first two).
            assert await h3.dht.provide(feed)
            providers = await h0.dht.find_providers(feed)
            assert sorted(p.peer for p in providers) == sorted([x.handle, h2.handle, h3.handle])

            client = await stack.enter_async_context(open_host(
                identity("dht-client"), config(dht_mode=DhtMode.CLIENT, bootstrap_peers=(boot,))))
            await wait_until(lambda: client.dht.routing_table_size() >= 1, timeout=5)
            start = time.perf_counter()
            providers = await client.dht.find_providers(feed)
            figures["find_providers (client) ms"] = (time.perf_counter() - start) * 1000
            assert sorted(p.peer for p in providers) == sorted([x.handle, h2.handle, h3.handle])
            assert await client.dht.find_providers(identity("other").public_key) == []
            # A provider does not list itself.
            assert x.handle not in [p.peer for p in await x.dht.find_providers(feed)]

    run(main, timeout=45)
    print("\n[dht] " + ", ".join(f"{k} {v:.0f}" for k, v in figures.items()))


def test_dht_off_and_client_modes() -> None:
    async def main() -> None:
        async with open_host(identity("plain"), config()) as plain:
            with pytest.raises(HostClosed, match="DHT is off"):
                plain.dht  # noqa: B018 - the property raises
        async with open_host(identity("c"), CLIENT) as c:
            assert c.dht.mode is DhtMode.CLIENT
            assert await c.dht.find_providers(bytes(32)) == []
            assert await c.dht.find_peer(identity("nobody").handle) is None
            info = await c.dht.find_peer(c.handle)  # ourselves: our own addresses
            assert isinstance(info, PeerInfo) and info.peer == c.handle

    run(main)
