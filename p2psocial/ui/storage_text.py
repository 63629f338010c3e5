"""The Storage screen's text: pure functions from a StorageView (runtime/views.py) and a
prune report to what the screen shows.

Rules:
- Sizes in B / kB / MB / GB (powers of 1000, runtime.views.size_text, as the CLI's).
- Offline (no running node) the view has no per-hop figures and no plan (`by_hop`,
  `would_drop` None): the screen says the running node knows them, and shows the budget
  config.json holds as "applied by the node", or "no budget".
- Hops in order: 0 (mine), 1 (whom I follow), 2 …, then feeds not wanted, then files no
  held post names; a feed is shown by its name, else its short handle.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rich.text import Text

from p2psocial.runtime.views import StorageView, size_text
from p2psocial.ui.render import short

HOP_NOTES = {"hop 0": "mine", "hop 1": "I follow"}
HOP_NAMES = {"not wanted": "not wanted (leaving)", "unnamed": "files no post names"}
OFFLINE = ("Bytes per hop and what the budget would drop: the running node knows them "
           "(p2psocial run, or this app online).")


def plural(n: int, one: str, many: str) -> str:
    return f"{n:,} {one if n == 1 else many}"


def hop_rank(name: str) -> tuple[int, int]:
    """Sort key: hop 0, 1, 2 … by number, then "not wanted", then "unnamed"."""
    if name.startswith("hop "):
        number = name.removeprefix("hop ")
        return (0, int(number)) if number.isdigit() else (1, 0)
    return (2, 0) if name == "not wanted" else (3, 0)


def hop_label(name: str) -> str:
    """`hop 0 · mine`, `hop 2`, `files no post names` …"""
    note = HOP_NOTES.get(name)
    return f"{name} · {note}" if note else HOP_NAMES.get(name, name)


def disk_text(view: StorageView, configured: int | None) -> Text:
    """Total, database, pictures and files, the budget. `configured`: the budget in
    config.json, read when no node runs (None: not read)."""
    out = Text()
    out.append(f"total               {size_text(view.total_bytes):>9}\n", "bold")
    out.append(f"database            {size_text(view.database_bytes):>9}\n")
    out.append(f"pictures and files  {size_text(view.blob_bytes):>9}")
    fetching = f", {view.wanted_blobs:,} still fetching" if view.wanted_blobs else ""
    out.append(f"  {view.blobs:,} held{fetching}\n", "dim")
    running = view.would_drop is not None
    budget = view.budget if running else configured or 0
    if budget:
        out.append(f"budget              {size_text(budget):>9}")
        out.append("  in force" if running else "  applied by the node", "dim")
    else:
        out.append("budget                   none")
        out.append("  b sets one", "dim")
    return out


def hops_text(by_hop: Mapping[str, int] | None) -> Text:
    """Bytes per hop (entries and the files their posts name)."""
    out = Text(no_wrap=True, overflow="ellipsis")
    out.append("By hop\n", "bold")
    if by_hop is None:
        out.append("  known to the running node", "dim")
        return out
    if not by_hop:
        out.append("  nothing held", "dim")
        return out
    rows = sorted(by_hop.items(), key=lambda item: hop_rank(item[0]))
    out.append("\n".join(f"  {size_text(n):>9}  {hop_label(name)}" for name, n in rows))
    return out


def feeds_text(top_feeds: list[list[Any]]) -> Text:
    """The feeds taking most room (entries), most first."""
    out = Text(no_wrap=True, overflow="ellipsis")
    out.append("Most room, by feed\n", "bold")
    if not top_feeds:
        out.append("  none held", "dim")
        return out
    out.append("\n".join(f"  {size_text(int(n)):>9}  {name or short(str(handle))}"
                         for handle, name, n in top_feeds))
    return out


def drop_text(view: StorageView) -> Text:
    """What the budget would drop now (with a running node), or why it is not known."""
    drop = view.would_drop
    if drop is None:
        return Text(OFFLINE, "dim")
    if drop.get("blobs") or drop.get("payloads"):  # on lines of their own: a size is
        over = int(drop.get("before", 0)) - int(drop.get("budget", 0))  # never cut in two
        hops = sorted(dict(drop.get("by_hop") or {}).items(), key=lambda i: hop_rank(i[0]),
                      reverse=True)
        out = Text()
        out.append(f"Over the budget by {size_text(max(over, 0))}", "bold")
        out.append(": p (prune now) would drop\n")
        out.append(f"  {_what(drop)}")
        if hops:
            out.append(",\n  farthest hops and oldest first: " + ", ".join(
                f"{hop_label(name)} {size_text(n)}" for name, n in hops), "dim")
        return out
    over = int(drop.get("before", 0)) - view.budget
    if view.budget and over > 0:
        return Text(f"Over the budget by {size_text(over)}, but nothing here may go: what "
                    "is left is yours or bookmarked.", "dim")
    if view.budget:
        return Text("Within the budget: nothing would be dropped.", "dim")
    return Text("No budget: nothing is dropped for room; p still removes feeds that left "
                "(after their grace period).", "dim")


def _what(report: Mapping[str, Any]) -> str:
    parts = []
    if report.get("blobs"):
        parts.append(plural(int(report["blobs"]), "picture or file", "pictures and files")
                     + f" ({size_text(int(report.get('blob_bytes', 0)))})")
    if report.get("payloads"):
        parts.append("the text of " + plural(int(report["payloads"]), "post", "posts")
                     + f" ({size_text(int(report.get('payload_bytes', 0)))})")
    return " and ".join(parts) or "nothing"


def prune_line(report: Mapping[str, Any]) -> str:
    """One line for what a prune did: before → after, what went."""
    went = _what(report)
    purged = int(report.get("feeds_purged", 0))
    if purged:
        left = plural(purged, "feed that left", "feeds that left")
        went = left if went == "nothing" else f"{went}; {left}"
    return (f"Pruned: {size_text(int(report.get('before', 0)))} → "
            f"{size_text(int(report.get('after', 0)))}: "
            + ("nothing had to go" if went == "nothing" else f"{went} went"))
