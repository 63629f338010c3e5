"""Benchmark: hole punching behind emulated NATs, success rate and time to upgrade.

    python bench/holepunch.py [--attempts 10] [--symmetric-attempts 3]    (root: namespaces)

For each NAT kind, one small Internet of network namespaces (p2psocial/testing/nat.py): a
public relay, author A behind its own NAT router, and for each attempt a fresh follower B
(a new identity, a new OS process, a new listen port) behind another router of the same
kind. B dials A through the relay, then runs one DCUtR upgrade (p2psocial/net/holepunch.py)
and reports whether a direct connection resulted and how long the upgrade took (from the
call to its return, the relayed connection already up), then checks that A still answers
on a new stream. Prints a table and one JSON line per NAT kind.

Expect every attempt to succeed behind port-preserving NATs and none behind symmetric ones
(each of those ends in the relayed connection, still working, after libp2p's three rounds).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from p2psocial.testing.nat import Nat, NatInternet
from p2psocial.testing.natpeer import NatPeerProcess, NoReport


def run(nat: Nat, attempts: int, logs: Path) -> dict[str, object]:
    """`attempts` upgrades from fresh followers to one author, both behind `nat` routers."""
    results: list[dict[str, object]] = []
    with NatInternet("hb") as net:
        relay_ip = net.public("relay")
        net.router("ra", nat=nat)
        net.behind("a", "ra")
        net.router("rb", nat=nat)
        net.behind("b", "rb")
        relay = NatPeerProcess(net, "relay", logs / "relay.log", "relay", "--listen", relay_ip)
        author: NatPeerProcess | None = None
        try:
            relay_addr = relay.until(lambda r: "addr" in r)["addr"]
            author = NatPeerProcess(net, "a", logs / "a.log", "peer", "--relay", relay_addr)
            handle = author.until(lambda r: "ready" in r)["handle"]
            for i in range(attempts):
                b = NatPeerProcess(net, "b", logs / f"b{i}.log", "peer", "--relay", relay_addr,
                                   "--target", handle, "--port", str(4101 + i))
                try:
                    done = b.until(lambda r: "upgraded" in r, timeout=120)
                    echo = b.until(lambda r: "echo" in r)
                    results.append({"upgraded": done["upgraded"], "seconds": done["seconds"],
                                    "route": echo["route"], "echo": echo["echo"]})
                except NoReport as exc:
                    results.append({"upgraded": False, "seconds": None, "route": "",
                                    "echo": False, "error": str(exc).splitlines()[0]})
                finally:
                    b.stop()
                print(f"  {nat.value} attempt {i + 1}: {results[-1]}", flush=True)
        finally:
            for proc in (author, relay):
                if proc is not None:
                    proc.stop()
    ok = [r for r in results if r["upgraded"]]
    times = sorted(float(r["seconds"]) for r in ok)  # type: ignore[arg-type]
    return {
        "nat": nat.value,
        "attempts": len(results),
        "upgraded": len(ok),
        "success_rate": round(len(ok) / len(results), 3) if results else 0.0,
        "upgrade_s_median": round(statistics.median(times), 3) if times else None,
        "upgrade_s_max": round(times[-1], 3) if times else None,
        "failed_s_median": round(statistics.median(
            float(r["seconds"]) for r in results  # type: ignore[arg-type]
            if not r["upgraded"] and r["seconds"] is not None), 3)
        if len(ok) < len(results) else None,
        "still_answering": sum(1 for r in results if r["echo"]),
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--attempts", type=int, default=10,
                   help="attempts behind port-preserving NATs")
    p.add_argument("--symmetric-attempts", type=int, default=3,
                   help="attempts behind symmetric NATs (each takes ~20 s to give up)")
    args = p.parse_args()
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="holepunch-") as tmp:
        summaries = []
        for nat, n in ((Nat.PRESERVING, args.attempts),
                       (Nat.SYMMETRIC, args.symmetric_attempts)):
            if n > 0:
                logs = Path(tmp) / nat.value
                logs.mkdir()
                summaries.append(run(nat, n, logs))
    print(f"\n{'NAT':<12}{'attempts':>9}{'direct':>8}{'rate':>7}{'median s':>10}"
          f"{'max s':>8}{'give-up s':>11}{'answering':>11}")
    for s in summaries:
        print(f"{s['nat']:<12}{s['attempts']:>9}{s['upgraded']:>8}{s['success_rate']:>7}"
              f"{s['upgrade_s_median'] or '-':>10}{s['upgrade_s_max'] or '-':>8}"
              f"{s['failed_s_median'] or '-':>11}{s['still_answering']:>11}")
    for s in summaries:
        print(json.dumps(s))
    print(f"(total {time.monotonic() - started:.0f} s)")


if __name__ == "__main__":
    main()
