"""CLI verbs of search: `search "words" [--from H] [--tag T]` and `tag <name>`.

Rules:
- Each verb is one Service call (in this process or through the running node) and prints
  its result, or one JSON value with `--json`: `search` an object with `posts` and `feeds`
  (the people whose name or bio matches), `tag` a list of posts.
- Text: the matching people first (name, full handle, relation, and the bio's first line),
  then the posts as `feed` prints them, newest first by time.
- What the user types is searched literally, with the small syntax core.search_query
  documents (`"a phrase"`, `word*`, `#tag`); input that cannot be searched is one line on
  stderr and exit status 2, from the Service's UsageError.
"""

from __future__ import annotations

import argparse
from collections.abc import Awaitable, Callable
from typing import Any

from p2psocial.cli import render
from p2psocial.cli.social_commands import person_line
from p2psocial.runtime.search_views import SearchView
from p2psocial.runtime.views import EntryView, FeedView

Handler = Callable[[argparse.Namespace, Any], Awaitable[int]]
VerbAdder = Callable[[str, str], argparse.ArgumentParser]
HANDLERS: dict[str, Handler] = {}
SYNTAX = ('words are all searched for, as typed (AND, OR, NOT are words too); "two words" is '
          'a phrase, word* a prefix, #tag a tag')


def add_verbs(verb: VerbAdder) -> None:
    """Add `search` and `tag` to the parser."""
    s = verb("search", "full-text search over every post and profile held here, newest first")
    s.add_argument("words", nargs="?", default="", help=SYNTAX)
    s.add_argument("--from", dest="author", metavar="HANDLE",
                   help="only this person's posts (a handle, or @name of someone you know)")
    s.add_argument("--tag", metavar="TAG", help="only posts with this tag (with or without #)")
    s.add_argument("--limit", type=int, default=20, help="posts to show (default 20)")
    s.add_argument("--json", action="store_true")
    s = verb("tag", "posts with a hashtag, newest first")
    s.add_argument("name", help="the tag, with or without its #")
    s.add_argument("--limit", type=int, default=20, help="posts to show (default 20)")
    s.add_argument("--json", action="store_true")


def profile_lines(view: FeedView) -> list[str]:
    """A matching person: `person_line`, and the first line of their bio, indented."""
    lines = [person_line(view)]
    bio = (view.bio or "").strip()
    if bio:
        lines.append("    " + bio.splitlines()[0][:100])
    return lines


async def _search(args: argparse.Namespace, api: Any) -> int:
    found: SearchView = await api.search(args.words, author=args.author, tag=args.tag,
                                         limit=args.limit)
    if args.json:
        render.print_json(found)
        return 0
    if found.feeds:
        print("people")
        for feed in found.feeds:
            print("\n".join("  " + line for line in profile_lines(feed)))
        print()
        print("posts" if found.posts else "posts: none match")
    elif not found.posts:
        print("no posts match" + _narrowed(args))
    render.print_entries(found.posts)
    return 0


def _narrowed(args: argparse.Namespace) -> str:
    parts = ([f"from {args.author}"] if args.author else []) + (
        [f"tagged #{args.tag.strip().removeprefix('#')}"] if args.tag else [])
    return f" ({' and '.join(parts)})" if parts else ""


async def _tag(args: argparse.Namespace, api: Any) -> int:
    posts: list[EntryView] = await api.tag(args.name, limit=args.limit)
    if args.json:
        render.print_json(posts)
    elif not posts:
        print(f"no posts tagged #{args.name.strip().removeprefix('#')}")
    else:
        render.print_entries(posts)
    return 0


HANDLERS["search"] = _search
HANDLERS["tag"] = _tag
