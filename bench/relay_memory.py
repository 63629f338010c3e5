"""Where a relay's memory per member goes: bench/relay.py with a cheap probe in the relay.

    python bench/relay_memory.py --followers 60 --per-process 30

Runs bench/relay.py's relay + author + swarm followers, but instead of tracemalloc (which
slows the relay ~3x, enough to drop its members) the relay answers SIGUSR1 with a JSON
count of its gc objects by type (count and sys.getsizeof), by holder chain (what holds
each set / coroutine / list / dict, five levels up), its trio and asyncio tasks by name, its
libp2p streams by protocol, glibc's mallinfo2, threads and RSS. Snapshot 1 is taken with
the author alone, 2 once every follower holds the first post; the difference is printed
per member. See docs/benchmarks.md, "Relay memory per member".
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
import relay as bench  # bench/relay.py

PROBE = r'''
import collections, ctypes, gc, json, os, runpy, signal, sys, threading
class MI(ctypes.Structure):
    _fields_ = [(n, ctypes.c_size_t) for n in ("arena", "ordblks", "smblks", "hblks",
        "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks", "keepcost")]
libc = ctypes.CDLL("libc.so.6"); libc.mallinfo2.restype = MI
count = [0]
def desc(o):
    t = type(o)
    if t.__name__ == "coroutine": return "coro:" + o.cr_code.co_qualname
    return f"{t.__module__}.{t.__qualname__}"
def dump(*_):
    count[0] += 1
    gc.collect()
    objs = gc.get_objects()
    cnt, size, holders = collections.Counter(), collections.Counter(), collections.Counter()
    parent = {}
    for o in objs:
        n = desc(o) if type(o).__name__ != "coroutine" else "builtins.coroutine"
        cnt[n] += 1
        try: size[n] += sys.getsizeof(o)
        except TypeError: pass
        for r in gc.get_referents(o):
            parent.setdefault(id(r), o)
    def chain(o):
        parts = []
        for _ in range(5):
            p = parent.get(id(o))
            if p is None: break
            parts.append(desc(p)); o = p
        return " < ".join(parts)
    for o in objs:
        n = type(o).__name__
        if n in ("set", "coroutine", "list", "dict", "OrderedDict", "deque"):
            holders[desc(o) + " <- " + chain(o)] += 1
        elif n == "Task" and type(o).__module__.startswith("trio"):
            holders["trio task " + str(o.name).split(" at ")[0]] += 1
        elif n == "Task" and "asyncio" in type(o).__module__:
            holders["asyncio task " + o.get_coro().__qualname__] += 1
        elif n == "NetStream":
            holders["stream " + str(getattr(o, "protocol_id", None))] += 1
    del parent, objs
    mi = libc.mallinfo2()
    status = dict(l.split(":", 1) for l in open("/proc/self/status"))
    out = {"count": cnt, "size": size, "holders": holders,
           "mallinfo": {k: getattr(mi, k) for k, _ in MI._fields_},
           "threads": status["Threads"].strip(), "rss": status["VmRSS"].strip(),
           "blocks": sys.getallocatedblocks()}
    path = f"{os.environ['BENCH_RELAY_SNAPSHOT']}.{count[0]}"
    with open(path + ".tmp", "w") as f: json.dump(out, f)
    os.rename(path + ".tmp", path)
signal.signal(signal.SIGUSR1, dump)
sys.argv = ["p2psocial", *sys.argv[1:]]
runpy.run_module("p2psocial", run_name="__main__", alter_sys=True)
'''


def snapshot(pid: int, path: Path, number: int) -> dict[str, Any]:
    os.kill(pid, signal.SIGUSR1)
    target = Path(f"{path}.{number}")
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if target.exists():
            data: dict[str, Any] = json.loads(target.read_text())
            return data
        time.sleep(0.5)
    raise SystemExit(f"no snapshot from the relay at {target}")


def growth(a: dict[str, Any], b: dict[str, Any], members: int) -> None:
    def per(key: str) -> dict[str, float]:
        keys = set(a[key]) | set(b[key])
        return {k: (b[key].get(k, 0) - a[key].get(k, 0)) / members for k in keys}
    print(f"relay (probe) RSS {a['rss']} -> {b['rss']}, threads {a['threads']} -> "
          f"{b['threads']}; per member:")
    for k in ("uordblks", "fordblks", "keepcost"):
        print(f"  malloc {k}: {(b['mallinfo'][k] - a['mallinfo'][k]) / 1024 / members:+.1f} kB")
    print(f"  pymalloc blocks: {(b['blocks'] - a['blocks']) / members:+.0f}")
    sizes, counts = per("size"), per("count")
    print(f"  gc objects: {sum(counts.values()):.0f}, {sum(sizes.values()) / 1024:.1f} kB "
          f"(sys.getsizeof); by type:")
    for k in sorted(sizes, key=lambda k: -sizes[k])[:30]:
        print(f"    {sizes[k] / 1024:7.2f} kB {counts[k]:7.1f}  {k}")
    held = per("holders")
    print("  tasks, streams and holders:")
    for k in sorted(held, key=lambda k: -held[k])[:60]:
        if held[k] >= 0.05:
            print(f"    {held[k]:6.2f}  {k[:200]}")


bench.TRACED = PROBE
bench.relay_snapshot = snapshot  # type: ignore[assignment]
bench.print_growth = growth  # type: ignore[assignment]

if __name__ == "__main__":
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--followers", type=int, default=60)
    p.add_argument("--per-process", type=int, default=30)
    p.add_argument("--look", type=float, default=15.0)
    args = p.parse_args()
    bench.main(argparse.Namespace(followers=args.followers, per_process=args.per_process,
                                  look=args.look, posts=0, rate=1.0, idle=5.0, settle=5.0,
                                  trace_relay=True, start_timeout=900.0))
