"""What a relay keeps per departed peer: real libp2p hosts on loopback, measured in-process.

    python bench/departed_memory.py              # 200 visitors
    python bench/departed_memory.py --visitors 50

A server host configured as a relay runs (gossip, circuit relay hop, keepalive, a
forget_peer_seconds far beyond the run). Visitors (fresh identities, real hosts with gossip,
subscribed to a topic the server has too) each dial it, wait until the server has identified
them, hang up and stop. tracemalloc compares the server's process before and after (grouped
by where the memory was allocated), then clears the departed peers' peerstore entries part
by part (what each part held), then compares again (what else is kept per peer). With
--rss-only: the server's RSS per departed visitor, untraced, in --steps rounds. Nothing here
is asserted; it prints figures.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import hashlib
import os
import subprocess
import sys
import tracemalloc
from pathlib import Path
from typing import Any

import trio

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from libp2p.peer.id import ID

from p2psocial.core.identity import Identity
from p2psocial.net import DhtMode, HostConfig, open_host

TOPIC = "p2psocial/bench/departed"


def identity(name: str) -> Identity:
    return Identity(hashlib.sha256(b"p2psocial-departed-bench:" + name.encode()).digest())


def config(**changes: Any) -> HostConfig:
    return HostConfig(listen_addrs=("/ip4/127.0.0.1/tcp/0",), dht_mode=DhtMode.OFF,
                      dial_timeout=5.0, stream_open_timeout=5.0, **changes)


async def visitors(server_addr: str, prefix: str, count: int) -> None:
    """The visitor process: `count` visitors, one after the other; each dials, tells its
    handle on stdout, and hangs up when the server answers on stdin (it has identified it)."""
    stdin = trio.lowlevel.FdStream(os.dup(0))
    for n in range(count):
        async with open_host(identity(f"{prefix}{n}"), config(enable_gossip=True)) as visitor:
            await visitor.gossip.subscribe(TOPIC)
            await visitor.dial(server_addr)
            print(visitor.handle, flush=True)
            await stdin.receive_some(1)
            await visitor.disconnect(server_addr.rsplit("/p2p/", 1)[1])


async def visit(server_addr: str, prefix: str, count: int, lp: Any) -> list[ID]:
    """`count` visitors from another process (so only the server is measured here), each
    identified by the server and known to its pubsub before it leaves."""
    store = lp.get_peerstore()
    left: list[ID] = []
    proc = await trio.lowlevel.open_process(
        [sys.executable, __file__, "--visit", server_addr, "--prefix", prefix,
         "--visitors", str(count)], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    async with proc.stdin, proc.stdout:
        assert proc.stdin is not None and proc.stdout is not None
        buffer = b""
        while len(left) < count:
            chunk = await proc.stdout.receive_some()
            if not chunk:
                raise RuntimeError("the visitor process stopped")
            buffer += chunk
            while b"\n" in buffer:
                line, buffer = buffer.split(b"\n", 1)
                pid = ID.from_base58(line.decode())
                with trio.fail_after(20):
                    while not (store.has_peer(pid) and store.get_protocols(pid)
                               and store.get_peer_record(pid) is not None):
                        await trio.sleep(0.01)
                left.append(pid)
                await proc.stdin.send_all(b"x")
    await proc.wait()
    return left


def rss_kib() -> int:
    """This process's resident set size (/proc/self/status)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def where(traceback: tracemalloc.Traceback) -> str:
    """The innermost frames of an allocation that are in libp2p or p2psocial (or the first)."""
    frames = [f for f in reversed(traceback) if "libp2p/" in f.filename
              or "p2psocial/" in f.filename][:3] or [traceback[-1]]
    return " < ".join(f"{f.filename.split('site-packages/')[-1].split('/work/main/')[-1]}"
                      f":{f.lineno}" for f in frames)


def top(before: tracemalloc.Snapshot, after: tracemalloc.Snapshot, n: int, per: int) -> None:
    stats = after.compare_to(before, "traceback")
    grown = sum(s.size_diff for s in stats)
    print(f"  in all: {grown / 1024:+.1f} KiB, {grown / per:+.0f} B per visitor")
    by_site: dict[str, list[int]] = {}
    for s in stats:
        site = by_site.setdefault(where(s.traceback), [0, 0])
        site[0] += s.size_diff
        site[1] += s.count_diff
    for site, (size, count) in sorted(by_site.items(), key=lambda i: -abs(i[1][0]))[:n]:
        if abs(size) < 1024:
            break
        print(f"  {size / per:+7.0f} B/visitor {count / per:+6.1f} blocks  {site}")


async def rss_only(args: argparse.Namespace) -> None:
    """RSS per departed visitor, untraced (tracemalloc's own bookkeeping is most of RSS)."""
    async with open_host(identity("server"), config(
            enable_gossip=True, relay_hop=True, forget_peer_seconds=3600.0)) as server:
        await server.gossip.subscribe(TOPIC)
        addr, lp = server.listen_addrs()[0], server._rt.lp
        await visit(addr, "warm", args.warmup, lp)
        for step in range(args.steps):
            await trio.sleep(args.settle)
            gc.collect()
            before = rss_kib()
            left = await visit(addr, f"s{step}v", args.visitors, lp)
            await trio.sleep(args.settle)
            gc.collect()
            after = rss_kib()
            print(f"{len(left)} more: RSS {before / 1024:.1f} -> {after / 1024:.1f} MiB, "
                  f"{(after - before) * 1024 / len(left):+.0f} B per visitor; "
                  f"peerstore {len(lp.get_peerstore().peer_ids())}", flush=True)


async def main(args: argparse.Namespace) -> None:
    async with open_host(identity("server"), config(
            enable_gossip=True, relay_hop=True, forget_peer_seconds=3600.0)) as server:
        await server.gossip.subscribe(TOPIC)
        addr = server.listen_addrs()[0]
        lp = server._rt.lp
        store = lp.get_peerstore()
        await visit(addr, "warm", args.warmup, lp)
        await trio.sleep(1)
        gc.collect()
        s0, r0 = tracemalloc.take_snapshot(), rss_kib()
        left = await visit(addr, "v", args.visitors, lp)
        with trio.fail_after(10):
            while any(lp.get_network().get_connections(p) for p in left):
                await trio.sleep(0.05)
        await trio.sleep(args.settle)
        gc.collect()
        s1, r1 = tracemalloc.take_snapshot(), rss_kib()
        n = len(left)
        print(f"RSS {r0 / 1024:.1f} -> {r1 / 1024:.1f} MiB (traced: tracemalloc's own "
              f"bookkeeping is most of it; see --rss-only)")
        print(f"{n} visitors came and left; the server's peerstore holds "
              f"{len(store.peer_ids())} peers, {len(store.peer_record_map)} signed records")
        print("grown after they left (by allocation site):")
        top(s0, s1, args.top, n)
        print("what each part of their peerstore entries held (cleared one after the other):")
        parts = (("signed records", lambda p: store.peer_record_map.pop(p, None)),
                 ("protocols", store.clear_protocol_data), ("metadata", store.clear_metadata),
                 ("addresses", store.clear_addrs), ("public keys", store.clear_keydata))
        before = s1
        for name, clear in parts:
            for pid in left:
                clear(pid)
            gc.collect()
            after = tracemalloc.take_snapshot()
            freed = sum(st.size_diff for st in after.compare_to(before, "filename"))
            print(f"  {name:15} {-freed / n:6.0f} B per visitor")
            before = after
        for pid in left:
            with contextlib.suppress(KeyError):
                store.clear_peerdata(pid)
        gc.collect()
        s2 = tracemalloc.take_snapshot()
        print("freed by clearing their peerstore entries:")
        top(s1, s2, args.top, n)
        print("still grown with the entries cleared (what else is kept per peer):")
        top(s0, s2, args.top, n)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--visitors", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--settle", type=float, default=10.0)
    parser.add_argument("--visit", help=argparse.SUPPRESS)
    parser.add_argument("--prefix", default="v", help=argparse.SUPPRESS)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--rss-only", action="store_true", help="RSS without tracemalloc")
    args = parser.parse_args()
    if args.visit:
        trio.run(visitors, args.visit, args.prefix, args.visitors)
    elif args.rss_only:
        trio.run(rss_only, args)
    else:
        tracemalloc.start(25)
        trio.run(main, args)
