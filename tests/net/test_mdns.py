"""mDNS between two hosts of one process.

No network namespaces are needed: zeroconf sends on every multicast-capable interface and the
kernel loops multicast back to the sender's machine, so two hosts in one process find each
other through eth0 (lo has no MULTICAST flag). Skipped where no such interface is up.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
import trio

from p2psocial.core.identity import Identity
from p2psocial.net import PeerConnected, Route, open_host
from tests.net.helpers import config, run, wait_until

pytestmark = pytest.mark.timeout(60)

IFF_UP, IFF_LOOPBACK, IFF_MULTICAST = 0x1, 0x8, 0x1000


def multicast_interface() -> bool:
    """True if an interface other than loopback is up and multicast-capable (zeroconf's path)."""
    for flags in Path("/sys/class/net").glob("*/flags"):
        value = int(flags.read_text(), 16)
        if value & IFF_UP and value & IFF_MULTICAST and not value & IFF_LOOPBACK:
            return True
    return False


@pytest.mark.skipif(not multicast_interface(), reason="no multicast-capable interface is up")

def test_two_hosts_find_each_other_by_mdns_and_connect_as_lan() -> None:
    took: dict[str, float] = {}
    lag = 0.0

    async def ticker() -> None:
        """Measures how long the trio thread is ever blocked (zeroconf must not block it)."""
        nonlocal lag
        while True:
            before = time.perf_counter()
            await trio.sleep(0.01)
            lag = max(lag, time.perf_counter() - before - 0.01)

    async def main() -> None:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(ticker)
            await hosts()
            nursery.cancel_scope.cancel()

    async def hosts() -> None:
        trio_thread = threading.get_ident()
        cfg = config(enable_mdns=True)
        start = time.perf_counter()
        # Fresh keys: other test runs on this machine announce themselves on the same LAN.
        async with open_host(Identity.generate(), cfg) as a, \
                open_host(Identity.generate(), config(enable_mdns=True,
                                                      mdns_auto_dial=False)) as b:
            took["start"] = time.perf_counter() - start
            start = time.perf_counter()
            a_events = a.events()
            found_by_b = b.mdns.open_receiver(16)
            # Other nodes on this machine may announce themselves too: wait for ours.
            with trio.fail_after(20):
                async for info in found_by_b:
                    if info.peer == a.handle:
                        break
            took["found"] = time.perf_counter() - start
            assert threading.get_ident() == trio_thread  # handed over to trio
            assert info.addrs and all(x.startswith("/ip4/") for x in info.addrs)
            assert b.mdns.is_lan_peer(a.handle)

            # `a` auto-dials what it finds; `b` (auto-dial off) is dialled by `a`.
            with trio.fail_after(20):
                async for event in a_events:
                    if isinstance(event, PeerConnected) and event.peer == b.handle:
                        break
            took["connected"] = time.perf_counter() - start
            assert event.connection.route is Route.LAN
            await wait_until(lambda: b.is_connected(a.handle))
            assert a.handle in {p.peer for p in b.mdns.found()}
        a_events.close()

    run(main, timeout=45)
    print(f"\n[mdns] 2 hosts started in {took['start']:.2f} s; found after {took['found']:.2f} s, "
          f"connected (LAN) after {took['connected']:.2f} s; trio thread blocked at most "
          f"{lag * 1000:.0f} ms")
    assert lag < 0.5
