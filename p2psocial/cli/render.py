"""Text rendering of views for the terminal (the CLI's non-JSON output)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from p2psocial.runtime.views import (
    EntryView,
    FeedLog,
    FeedView,
    NodeStatus,
    PeerView,
    VerifyReport,
    size_text,
)


def short(handle: str) -> str:
    """A handle shortened for display: first 8 and last 6 characters."""
    return handle if len(handle) <= 16 else f"{handle[:8]}…{handle[-6:]}"


def when(ms: int, now_ms: int | None = None) -> str:
    """A relative time for recent moments, a date for older ones."""
    now = now_ms if now_ms is not None else time.time_ns() // 1_000_000
    seconds = (now - ms) / 1000
    if seconds < -60:
        return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M")
    if seconds < 60:
        return "just now"
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            amount = int(seconds // size)
            if unit == "d" and amount > 30:
                return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d")
            return f"{amount}{unit} ago"
    return "just now"


def who(view: EntryView | FeedView) -> str:
    """Name and short handle of an entry's author or a feed."""
    handle = view.author
    name = view.name
    return f"{name} ({short(handle)})" if name else short(handle)


def entry_lines(e: EntryView, *, now_ms: int | None = None) -> list[str]:
    """An entry as a header line and indented body lines."""
    head = f"{e.short_hash}  {who(e)}  #{e.seq} {e.type}  {when(e.timestamp, now_ms)}"
    counts = []
    if e.replies:
        counts.append(f"{e.replies} repl{'y' if e.replies == 1 else 'ies'}")
    if e.reposts:
        counts.append(f"{e.reposts} repost{'s' * (e.reposts != 1)}")
    counts.extend(f"{r} {n}" for r, n in sorted(e.reactions.items()))
    if counts:
        head += "  · " + ", ".join(counts)
    body: list[str] = []
    c = e.content or {}
    if e.deleted:
        body.append("(deleted)")
    else:
        if c.get("parent"):
            body.append(f"↳ reply to {str(c['parent'])[:12]}")
        if c.get("cw"):
            body.append(f"[CW: {c['cw']}]")
        if e.text:
            body.extend(e.text.splitlines() or [""])
        body.extend(attachment_line(a) for a in c.get("attachments") or ())
    return [head, *("    " + line for line in body)]


def attachment_line(a: dict[str, Any]) -> str:
    """A picture or file of a post: kind, description or name, type, size, id."""
    kind = "picture" if str(a.get("type", "")).startswith("image/") else "file"
    label = a.get("alt") or a.get("name") or "(no description)"
    return (f"[{kind}: {label}] {a.get('type')} {size_text(int(a.get('size') or 0))}  "
            f"blob {str(a.get('blob'))[:16]}")



def print_entries(entries: Iterable[EntryView]) -> None:
    """Print entries with a blank line between them."""
    now = time.time_ns() // 1_000_000
    first = True
    for e in entries:
        if not first:
            print()
        first = False
        print("\n".join(entry_lines(e, now_ms=now)))


def feed_line(f: FeedView) -> str:
    """One line about a feed: who, what we hold, relation, status."""
    held = "nothing held" if f.hi == 0 else (
        f"seq {f.lo}–{f.hi}" + ("" if f.complete else " (partial)"))
    marks = [m for m, on in (("me", f.is_me), ("following", f.following),
                             ("BLOCKED", f.blocked), ("FORKED", f.forked)) if on]
    return f"{who(f)}  {f.author}  {held}" + (f"  [{', '.join(marks)}]" if marks else "")


def print_log(log: FeedLog) -> None:
    """A feed header and its entries."""
    print(feed_line(log.feed))
    if log.feed.forked:
        print("  this feed is FORKED: its author signed two histories; no further entries are "
              "accepted (see `p2psocial verify`)")
    if log.entries:
        print()
        print_entries(log.entries)
    else:
        print("  (no entries)")


def print_verify(report: VerifyReport) -> None:
    """Summary of a verify run, with every problem."""
    for f in report.feeds:
        status = "ok"
        if f.forked:
            status = f"FORKED ({f.fork_proofs} proof{'s' * (f.fork_proofs != 1)} kept)"
        if f.problems:
            status = f"{len(f.problems)} problem{'s' * (len(f.problems) != 1)}"
        print(f"{short(f.author)}  {f.checked} entries  {status}")
        for p in f.problems[:20]:
            print(f"    {p}")
        if len(f.problems) > 20:
            print(f"    … and {len(f.problems) - 20} more")
    verdict = "all valid" if report.ok else "PROBLEMS FOUND"
    print(f"verified {report.entries} entries in {len(report.feeds)} feeds: {verdict}")


def print_json(value: Any) -> None:
    """Print a view (or list of views) as JSON."""
    if isinstance(value, list):
        value = [v.to_json() if hasattr(v, "to_json") else v for v in value]
    elif hasattr(value, "to_json"):
        value = value.to_json()
    print(json.dumps(value, ensure_ascii=False, indent=2))


def print_json_line(value: Any) -> None:
    """Print a view as one line of JSON (for streams)."""
    if hasattr(value, "to_json"):
        value = value.to_json()
    print(json.dumps(value, ensure_ascii=False))


def peer_line(p: PeerView) -> str:
    """One line about a connected peer."""
    name = f"{p.name} ({short(p.handle)})" if p.name else short(p.handle)
    sync = "caught up" if p.caught_up else ("syncing" if p.syncing else "idle")
    return (f"{name}  {p.kind}  {p.addr}  {sync}, {p.feeds} feeds in common, "
            f"{p.entries_in} in / {p.entries_out} out")


def connect_line(p: PeerView) -> str:
    """What `connect` did: a new connection, or the one that existed (and over which
    address), so a wrong address is never reported as connected."""
    if not p.existing:
        return f"connected to {peer_line(p)}"
    line = f"already connected to {peer_line(p)}"
    if p.requested and _transport(p.requested) != _transport(p.addr):
        line += (f"\n{p.requested} was not dialled: the connection that existed is used "
                 f"(it goes over {p.addr})")
    return line


def _transport(addr: str) -> str:
    return addr.split("/p2p/", 1)[0]


def print_status(s: NodeStatus) -> None:
    """The node's addresses, peers and every wanted feed's replication state."""
    print(f"node {s.handle}: {s.peers} peer{'s' * (s.peers != 1)}, "
          f"{s.entries_received} entries received ({s.duplicates} duplicates)")
    for addr in s.listen:
        print(f"  listening on {addr}")
    if s.listen and s.reachability != "unknown":
        seen = f", seen at {s.observed}" if s.observed else ""
        what = "behind a NAT" if s.reachability == "private" else "reachable directly"
        print(f"  {s.reachability}: {what}{seen}")
    if not s.feeds:
        return
    print()
    print(f"{'feed':28} {'hop':>3} {'held':>15} {'behind':>7}  from")
    for f in s.feeds:
        who_ = f"{f.name} ({short(f.author)})" if f.name else short(f.author)
        held = f"{f.lo}–{f.hi}" if f.hi else "nothing posted" if f.hop == 0 else (
            "none yet" if f.found else "not found yet")  # not found: perhaps a typo
        behind = str(f.behind) if f.found else "?"
        sources = ", ".join(short(x) for x in f.sources) or "-"
        mark = "  FORKED" if f.forked else ""
        print(f"{who_[:28]:28} {f.hop:>3} {held:>15} {behind:>7}  {sources}{mark}")
