"""A bare libp2p host for test_mesh, run as its own process inside a namespace.

    python -m tests.network.mesh_probe <bootstrap addr> <holder addr> <feed handle> <seq>

It joins the DHT through <bootstrap addr> and prints, one JSON object a line:
{"providers": [...]} (who the DHT says holds the feed, polled until the holder is among them
or 20 s pass); then it dials <holder addr>, subscribes to the feed's gossip topic and prints
{"ready": true} once the holder is in its mesh; then {"source": ..., "seq": ...} for each head
announcement it hears, until the holder's announcement of <seq> (or later) arrives or 20 s
pass (gossipsub may also hand it older messages from its cache).
"""

from __future__ import annotations

import json
import sys

import trio

from p2psocial.core.entry import decode_entry
from p2psocial.core.errors import NetError, ValidationError
from p2psocial.core.identity import Identity, parse_handle
from p2psocial.net import DhtMode, HostConfig, open_host

WAIT = 20.0


def say(obj: object) -> None:
    print(json.dumps(obj), flush=True)


async def main(boot: str, holder_addr: str, feed_handle: str, until: str) -> None:
    holder = holder_addr.rsplit("/p2p/", 1)[-1]
    feed = parse_handle(feed_handle)
    topic = f"/p2psocial/feed/1/{feed_handle}"
    config = HostConfig(listen_addrs=("/ip4/0.0.0.0/tcp/0",), dht_mode=DhtMode.SERVER,
                        enable_gossip=True, enable_mdns=False, dht_timeout=5.0)
    async with open_host(Identity.generate(), config) as host:
        await host.bootstrap([boot])
        providers: list[str] = []
        with trio.move_on_after(WAIT):
            while holder not in providers:
                try:
                    providers = [p.peer for p in await host.dht.find_providers(feed)]
                except NetError:
                    providers = []
                if holder not in providers:
                    await trio.sleep(0.5)
        say({"providers": providers})
        await host.dial(holder_addr)
        queue = await host.gossip.subscribe(topic)
        with trio.move_on_after(WAIT):
            while holder not in host.gossip.mesh_peers(topic):
                await trio.sleep(0.1)
        say({"ready": holder in host.gossip.mesh_peers(topic)})
        with trio.move_on_after(WAIT):
            while True:
                message = await queue.receive()
                try:
                    seq = decode_entry(message.data, None).seq
                except ValidationError:
                    seq = -1
                say({"source": message.source, "seq": seq})
                if message.source == holder and seq >= int(until):
                    break


if __name__ == "__main__":
    trio.run(main, *sys.argv[1:5])
