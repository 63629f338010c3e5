"""CLI verbs of pictures and files: `blob get <id> [-o FILE]`, `blob hash FILE` and
`storage`. (`post --attach FILE --alt TEXT` is in commands.py, with `post`.)

Rules:
- Each verb is one Service call (in this process or through the running node) and prints its
  result, or one JSON value with `--json`. Paths are made absolute here: a running node
  reads and writes them from its own working directory.
- `blob get` without `-o` prints where the blob is held; one not held is fetched by the
  running node (docs/protocol.md B8), or is one clear line when no node runs.
"""

from __future__ import annotations

import argparse
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from p2psocial.cli import render
from p2psocial.core.budget import parse_size
from p2psocial.core.errors import UsageError
from p2psocial.runtime.config import load_config
from p2psocial.runtime.views import BlobView, StorageView, size_text
from p2psocial.store.home import resolve_home

Handler = Callable[[argparse.Namespace, Any], Awaitable[int]]
VerbAdder = Callable[[str, str], argparse.ArgumentParser]
HANDLERS: dict[str, Handler] = {}


def add_verbs(verb: VerbAdder) -> None:
    """Add `blob` and `storage` to the parser."""
    b = verb("blob", "pictures and files: blob get <id> [-o FILE] | blob hash FILE")
    b.add_argument("action", choices=("get", "hash"))
    b.add_argument("target", metavar="ID|FILE", help="a blob id (64 hex digits) or a file")
    b.add_argument("-o", "--output", metavar="FILE", help="write the blob to FILE")
    b.add_argument("--json", action="store_true")
    s = verb("storage", "what this home takes on disk; storage budget SIZE sets the most it "
             "may take (e.g. 2GB; 0: no limit); storage prune applies it now")
    s.add_argument("action", nargs="?", choices=("budget", "prune"))
    s.add_argument("size", nargs="?", help="for budget: 2GB, 500MB, 1.5GiB, 0 …")
    s.add_argument("--json", action="store_true")


def absolute(path: str) -> str:
    return str(Path(path).expanduser().absolute())


async def _blob(args: argparse.Namespace, api: Any) -> int:
    if args.action == "hash":
        if args.output:
            raise UsageError("blob hash takes no -o")
        blob_id = await api.blob_hash(absolute(args.target))
        render.print_json({"id": blob_id}) if args.json else print(blob_id)
        return 0
    view: BlobView = await api.blob_get(args.target, absolute(args.output)
                                        if args.output else None)
    if args.json:
        render.print_json(view)
    else:
        alt = f"  “{view.alt}”" if view.alt else ""
        print(f"{view.path}  ({view.type}, {size_text(view.size)}){alt}")
    return 0


async def _storage(args: argparse.Namespace, api: Any) -> int:
    if args.action == "budget":
        return await _set_budget(args, api)
    if args.size is not None:
        raise UsageError(f"storage {args.action or ''} takes no size".replace("  ", " "))
    if args.action == "prune":
        report = await api.prune()
        if args.json:
            render.print_json(report)
        else:
            print(f"{size_text(report['before'])} → {size_text(report['after'])}: "
                  f"{report['blobs']} pictures and files, {report['payloads']} post "
                  f"contents dropped; {report['feeds_purged']} feeds that left removed")
        return 0
    view: StorageView = await api.storage()
    if args.json:
        render.print_json(view)
        return 0
    budget = f" of {size_text(view.budget)}" if view.budget else ""
    if view.would_drop is None:  # no node: the budget it will apply when it starts
        configured = load_config(resolve_home(args.home).config_file).storage_budget
        budget = f" (budget {size_text(configured)}, applied by the node)" if configured else ""
    print(f"database            {size_text(view.database_bytes):>10}")
    print(f"pictures and files  {size_text(view.blob_bytes):>10}  ({view.blobs} held"
          + (f", {view.wanted_blobs} wanted" if view.wanted_blobs else "") + ")")
    print(f"total               {size_text(view.total_bytes):>10}{budget}")
    if view.by_hop:
        print("\nby hop (0: mine, 1: whom I follow, …):")
        for hop, n in view.by_hop.items():
            print(f"  {size_text(n):>10}  {hop}")
    if view.top_feeds:
        print("\nmost room, by feed:")
        for handle, name, n in view.top_feeds:
            print(f"  {size_text(n):>10}  {name or render.short(handle)}")
    drop = view.would_drop
    if drop and (drop["blobs"] or drop["payloads"]):
        print(f"\nover the budget: pruning would drop {drop['blobs']} pictures and files "
              f"({size_text(drop['blob_bytes'])}) and {drop['payloads']} post contents "
              f"({size_text(drop['payload_bytes'])}), farthest hops and oldest first: "
              + ", ".join(f"{hop} {size_text(n)}" for hop, n in drop["by_hop"].items()))
    elif view.budget and view.total_bytes > view.budget:
        print(f"over the budget by {size_text(view.total_bytes - view.budget)}, but nothing "
              "here may go (your own posts, your bookmarks, profiles and follows stay)")
    elif view.budget:
        print("within the budget: nothing would be pruned")
    return 0


async def _set_budget(args: argparse.Namespace, api: Any) -> int:
    if args.size is None:
        raise UsageError("say how much: storage budget 2GB (0: no limit)")
    try:
        budget = parse_size(args.size)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    home = resolve_home(args.home)
    config = load_config(home.config_file)
    config.with_overrides(storage_budget=budget).save(home.config_file)
    live = await api.set_storage_budget(budget)
    what = f"at most {size_text(budget)}" if budget else "no limit"
    print(f"storage budget: {what}" + (" (the running node applies it now: `p2psocial storage "
                                      "prune` to prune at once)" if live else
                                      " (the node applies it when it starts)"))
    return 0


HANDLERS.update({"blob": _blob, "storage": _storage})
