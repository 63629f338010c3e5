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
from p2psocial.core.errors import UsageError
from p2psocial.runtime.views import BlobView, StorageView

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
    s = verb("storage", "what this home takes on disk: the database and pictures and files")
    s.add_argument("--json", action="store_true")


def absolute(path: str) -> str:
    return str(Path(path).expanduser().absolute())


def size_text(n: int) -> str:
    """Bytes for people: 512 B, 3.4 KB, 1.2 MB, 2.0 GB (powers of 1000)."""
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n} B"


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
    view: StorageView = await api.storage()
    if args.json:
        render.print_json(view)
        return 0
    print(f"database            {size_text(view.database_bytes):>10}")
    print(f"pictures and files  {size_text(view.blob_bytes):>10}  ({view.blobs} held"
          + (f", {view.wanted_blobs} wanted" if view.wanted_blobs else "") + ")")
    print(f"total               {size_text(view.total_bytes):>10}")
    return 0


HANDLERS.update({"blob": _blob, "storage": _storage})
