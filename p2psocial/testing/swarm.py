"""Many real follower nodes in one OS process, for benchmarks with hundreds of followers.

    python -m p2psocial.testing.swarm --root DIR --count K [--first 0] --follow TOKEN

Rules:
- Each follower is a whole p2psocial Node: its own home (root/fNNNN), identity, SQLite store,
  libp2p host and listen port, and control socket. Nodes share only the process: each runs in
  its own thread, with its own asyncio loop and its own trio guest run (the bridge allows one
  trio run per thread), so each runs the real replication code and stores what it receives.
- A follower knows only TOKEN (an invite): it follows it before going online, as
  `p2psocial follow <invite>` would, so the inviter's relays become its relays. It runs
  without mDNS and, unless --dht, without the DHT.
- The process reports on stdout, one JSON object a line: {"up": i} once node i is online,
  {"ready": K} once all are, {"entry": i, "text": ..., "at": t} for every entry stored by
  node i (t is time.monotonic(), the system-wide CLOCK_MONOTONIC, comparable across
  processes), {"failed": i, "error": ...} if node i cannot start. It stops every node on
  SIGTERM, SIGINT or end of stdin.
- At most --starting nodes start at once (start-up is mostly CPU: keys, SQLite, imports).
- The process runs at --nice (10 by default): its followers stand for other machines, and
  must not starve the relay or author being measured of CPU on a shared machine.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import resource
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any

from p2psocial.core.errors import HomeLocked, P2PSocialError
from p2psocial.core.identity import Identity
from p2psocial.runtime.config import NodeConfig
from p2psocial.runtime.node import Node
from p2psocial.store import keyfile
from p2psocial.store.home import Home, HomeLock
from p2psocial.store.sqlite import Store

LOOPBACK = "/ip4/127.0.0.1/tcp/0"
_out = threading.Lock()


def report(**fields: Any) -> None:
    """One JSON line on stdout (threads never interleave lines)."""
    line = json.dumps(fields) + "\n"
    with _out:
        sys.stdout.write(line)
        sys.stdout.flush()


def raise_fd_limit() -> int:
    """Raise this process's soft RLIMIT_NOFILE to its hard limit; returns the new soft."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        return hard
    return soft


async def create_home(home: Home) -> Identity:
    """A new home with an unencrypted identity (a throwaway follower)."""
    identity = Identity.generate()
    home.create()
    with HomeLock(home):
        store = await Store.open(home.database)
        try:
            await store.set_owner(identity.public_key)
        finally:
            await store.close()
        keyfile.write_doc(home.key_file, keyfile.seal(identity, ""))
    return identity


class Follower:
    """One follower node, run in its own thread until `stop_soon()`."""

    def __init__(self, index: int, home: Home, config: NodeConfig, token: str,
                 starting: threading.Semaphore) -> None:
        self.index = index
        self.home = home
        self.config = config
        self.token = token
        self._starting = starting
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self.thread = threading.Thread(target=self._main, name=f"follower-{index}",
                                       daemon=True)
        self.up = threading.Event()

    def stop_soon(self) -> None:
        """Ask the node to stop (from any thread)."""
        loop, stop = self._loop, self._stop
        if loop is not None and stop is not None:
            with contextlib.suppress(RuntimeError):  # the loop closed already
                loop.call_soon_threadsafe(stop.set)

    def _main(self) -> None:
        try:
            asyncio.run(self._run())
        except (P2PSocialError, OSError) as exc:
            report(failed=self.index, error=str(exc))
        finally:
            self.up.set()

    async def _run(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        with self._starting:
            identity = await create_home(self.home)
            node = await self._start(identity)
        try:
            with node.hub.subscription() as events:
                forward = asyncio.create_task(self._forward(events))
                await node.service.follow(self.token)
                with self._starting:
                    await node.go_online()
                report(up=self.index, handle=identity.handle)
                self.up.set()
                await self._stop.wait()
                forward.cancel()
        finally:
            await node.stop()

    async def _start(self, identity: Identity) -> Node:
        """Start the node offline. Another thread's fork (a subprocess starting) may hold a
        copy of this home's lock descriptor for an instant, so a locked home is retried."""
        for _ in range(50):
            node = Node(self.home, identity, self.config, offline=True)
            try:
                await node.start()
            except HomeLocked:
                await asyncio.sleep(0.1)
                continue
            return node
        raise HomeLocked(f"{self.home.root} stayed locked")

    async def _forward(self, events: asyncio.Queue[tuple[str, Any]]) -> None:
        while True:
            kind, data = await events.get()
            if kind == "entry":
                report(entry=self.index, text=getattr(data, "text", None), at=time.monotonic())


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--root", type=Path, required=True)
    p.add_argument("--count", type=int, required=True)
    p.add_argument("--first", type=int, default=0, help="index of the first follower")
    p.add_argument("--follow", required=True, help="the invite every follower follows")
    p.add_argument("--look", type=float, default=15.0, help="followers' look_seconds")
    p.add_argument("--dht", action="store_true", help="run the followers' DHT")
    p.add_argument("--starting", type=int, default=2, help="nodes starting at once")
    p.add_argument("--nice", type=int, default=10, help="added to the process's niceness")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr,
                        format="%(asctime)s %(threadName)s %(levelname)s %(name)s: %(message)s")
    raise_fd_limit()
    os.nice(args.nice)
    config = NodeConfig(listen=[LOOPBACK], mdns=False, dht=args.dht,
                        look_seconds=args.look)
    starting = threading.Semaphore(args.starting)
    followers = [Follower(i, Home(args.root / f"f{i:04d}"), config, args.follow, starting)
                 for i in range(args.first, args.first + args.count)]
    done = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: done.set())

    def until_stdin_ends() -> None:
        sys.stdin.read()
        done.set()

    threading.Thread(target=until_stdin_ends, daemon=True).start()
    for follower in followers:
        follower.thread.start()
    for follower in followers:
        while not follower.up.wait(0.2) and not done.is_set():
            pass
    report(ready=sum(f.thread.is_alive() for f in followers))
    done.wait()
    for follower in followers:
        follower.stop_soon()
    for follower in followers:
        follower.thread.join(timeout=10)
    return 0


if __name__ == "__main__":
    sys.exit(main())
