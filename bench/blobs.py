"""Benchmark: a 5 MB blob between two nodes on loopback (issue 13, acceptance 3: >= 20 MB/s).

    python bench/blobs.py [--size 5242880] [--runs 5]

Two real libp2p hosts in this process (TCP on 127.0.0.1, Noise, yamux), each with its own
blob files (store/blobs.py) and a BlobExchange (runtime/blobs.py), as a node runs them.
Each run the client fetches a fresh random blob of `--size` bytes: the request, the head,
every chunk checked against the manifest as it arrives, appended to the part file, fsynced
and renamed into place. The baseline, in the same run, is the same number of bytes sent
over a plain stream of the same hosts and thrown away (no hashing, no disk): the ratio
says what verification and storage cost over what libp2p itself carries. Prints the
median and best of each, in MB/s (10^6 bytes per second).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from p2psocial.core.identity import Identity
from p2psocial.core.limits import MAX_BLOB_BYTES
from p2psocial.net import Channel, DhtMode, Host, HostConfig
from p2psocial.runtime.blobs import BlobExchange
from p2psocial.runtime.bridge import TrioBridge
from p2psocial.store.blobs import BlobStore

SINK = "/p2psocial-bench/sink/1.0.0"
CONFIG = HostConfig(listen_addrs=("/ip4/127.0.0.1/tcp/0",), dht_mode=DhtMode.OFF,
                    enable_gossip=False, enable_mdns=False)


async def sink(channel: Channel) -> None:
    while await channel.receive_some():
        pass
    await channel.aclose()


async def send_plain(host: Host, peer: str, data: bytes) -> None:
    async with await host.open_stream(peer, SINK) as channel:
        view = memoryview(data)
        for at in range(0, len(data), 65536):
            await channel.send_all(view[at:at + 65536])
        await channel.send_eof()
        while await channel.receive_some():
            pass


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=MAX_BLOB_BYTES)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="p2psocial-bench-blobs-") as tmp:
        async with TrioBridge() as bridge:
            server = Host(Identity.generate(), CONFIG)
            client = Host(Identity.generate(), CONFIG)
            server.set_stream_handler(SINK, sink)
            serving = BlobExchange(bridge, server, BlobStore(Path(tmp) / "server"))
            fetching = BlobExchange(bridge, client, BlobStore(Path(tmp) / "client"))
            serving.start()
            fetching.start()
            await bridge.start_service(server.serve)
            await bridge.start_service(client.serve)
            await bridge.run(client.dial, server.listen_addrs()[0])
            blob_rates, plain_rates = [], []
            for _ in range(args.runs):
                data = os.urandom(args.size)
                manifest = serving.store.add_bytes(data)
                start = time.perf_counter()
                await bridge.run(send_plain, client, server.handle, data)
                plain_rates.append(args.size / (time.perf_counter() - start) / 1e6)
                start = time.perf_counter()
                ok = await fetching.fetch(manifest.id, size=manifest.size,
                                          sources=[server.handle])
                blob_rates.append(args.size / (time.perf_counter() - start) / 1e6)
                assert ok and fetching.store.read(manifest.id) == data
            await serving.stop()
            await fetching.stop()
            await bridge.run(client.aclose)
            await bridge.run(server.aclose)
    med_b, med_p = statistics.median(blob_rates), statistics.median(plain_rates)
    print(f"blob of {args.size:,} bytes, {args.runs} runs on loopback")
    print(f"  fetched as a blob: median {med_b:6.1f} MB/s, best {max(blob_rates):6.1f} MB/s"
          "  (bar >= 20)")
    print(f"  plain stream:      median {med_p:6.1f} MB/s, best {max(plain_rates):6.1f} MB/s")
    print(f"  ratio blob / plain (medians): {med_b / med_p:.2f}")


if __name__ == "__main__":
    asyncio.run(main())
