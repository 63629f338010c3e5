"""How an entry reads on screen: pure functions from views to Rich Text.

Rules:
- No widget state here: the list widget hands in a `Context` (names, related entries, the
  styles from its .tcss component classes, the clock) and gets Text back.
- Handles are shown short; a mention of a known feed reads as @name; tags and mentions are
  highlighted, mentions of me more strongly.
- An entry is shown under the account it counts for (its `account`: name and handle), not
  under the device that wrote it; a single-key identity is its own account.
- A content warning folds the text until the row is opened (its pictures and files too).
- Each picture or file of a post is one item under its text (p2psocial.ui.attachments).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

from rich.style import Style
from rich.text import Text

from p2psocial.core.text import MENTION_RE, TAG_RE
from p2psocial.runtime.views import EntryView
from p2psocial.ui.attachments import attachment_text, attachments_of

ROLES = ("author", "handle", "time", "mention", "mention-me", "tag", "counts", "cw", "note",
         "quote", "deleted", "dim")
QUOTE_LINES = 3


def short(handle: str) -> str:
    """A handle shortened for display: first 8 and last 6 characters (as the CLI shows it)."""
    return handle if len(handle) <= 16 else f"{handle[:8]}…{handle[-6:]}"


def owner(view: EntryView) -> str:
    """The handle an entry is shown under: its account's (its author's if not looked up)."""
    return view.account or view.author


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def ago(ms: int, now: int) -> str:
    """A compact relative time: now, 5m, 3h, 2d; a date past a month (or in the future)."""
    seconds = (now - ms) / 1000
    if seconds < -60 or seconds >= 30 * 86400:
        fmt = "%b %d" if seconds < 365 * 86400 and seconds >= 0 else "%Y-%m-%d"
        return datetime.fromtimestamp(ms / 1000, UTC).strftime(fmt)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{int(seconds // size)}{unit}"
    return "now"


@dataclass(slots=True, eq=False)
class Row:
    """One item of a list: an entry, what to show of it, and its fold state.

    `note` is a line above the post (who reposted it, what a notification is about); a
    WHO in it stands for the entry's author, named when drawn (a name that changes later
    shows at once); `shown` is the post displayed (a repost's target; else the entry itself).
    """

    entry: EntryView
    shown: EntryView | None = None
    note: str | None = None
    depth: int = 0
    opened: bool = False  # content warning unfolded
    kind: str = "post"  # "post", or a notification kind
    cache: tuple[object, list[object]] | None = field(default=None, repr=False)

    @property
    def post(self) -> EntryView:
        return self.shown or self.entry

    @property
    def key(self) -> str:
        return self.entry.hash


@dataclass(slots=True)
class Context:
    """What rendering needs beyond the row."""

    me: str = ""
    my_account: str = ""  # my account's handle (mine again for a single-key identity)
    names: Mapping[str, str] = field(default_factory=dict)
    related: Mapping[str, EntryView] = field(default_factory=dict)
    styles: Mapping[str, Style] = field(default_factory=dict)
    now: Callable[[], int] = now_ms

    def style(self, role: str) -> Style:
        return self.styles.get(role) or Style()

    def name_of(self, handle: str, fallback: str | None = None) -> str | None:
        return self.names.get(handle) or fallback


def who(handle: str, name: str | None) -> str:
    """`name` if known, else the short handle."""
    return name or short(handle)


def body_text(text: str, ctx: Context) -> Text:
    """Post text with @mentions (shown as @name when known) and #tags highlighted."""
    out = Text()
    pos = 0
    for match in _TOKENS.finditer(text):
        out.append(text[pos:match.start()])
        token = match.group(0)
        if token.startswith("@"):
            handle = token[1:]
            role = "mention-me" if handle == ctx.me else "mention"
            out.append("@" + who(handle, ctx.names.get(handle)), ctx.style(role))
        else:
            out.append(token, ctx.style("tag"))
        pos = match.end()
    out.append(text[pos:])
    return out


_TOKENS = re.compile(f"{MENTION_RE.pattern}|{TAG_RE.pattern}")


def header_line(post: EntryView, ctx: Context) -> Text:
    """Author name, short handle and relative time."""
    line = Text(no_wrap=True, overflow="ellipsis")
    handle = owner(post)
    name = ctx.name_of(handle, post.name)
    if name:
        line.append(name, ctx.style("author"))
        line.append(" ")
    line.append(short(handle), ctx.style("handle"))
    line.append(" · ", ctx.style("dim"))
    line.append(ago(post.timestamp, ctx.now()), ctx.style("time"))
    return line


def counts_line(post: EntryView, ctx: Context) -> Text | None:
    """Replies, reposts and reactions, or None when there are none."""
    parts = []
    if post.replies:
        parts.append(f"↩ {post.replies}")
    if post.reposts:
        parts.append(f"⇄ {post.reposts}")
    parts.extend(f"{r} {n}" for r, n in sorted(post.reactions.items(), key=lambda kv: -kv[1]))
    return Text("  ".join(parts), ctx.style("counts")) if parts else None


def context_line(post: EntryView, ctx: Context) -> Text | None:
    """"replying to X" for a reply whose parent is known."""
    content = post.content or {}
    parent = content.get("parent")
    if not parent:
        return None
    target = ctx.related.get(str(parent))
    if target is None:
        to = "a post"
    elif target.author == ctx.me or owner(target) == ctx.my_account:
        to = "you"
    else:
        to = who(owner(target), ctx.name_of(owner(target), target.name))
    return Text(f"↳ replying to {to}", ctx.style("note"))


def quote_block(post: EntryView, ctx: Context) -> Text | None:
    """The quoted post, indented and cut to a few lines."""
    ref = (post.content or {}).get("quote")
    if not ref:
        return None
    quoted = ctx.related.get(str(ref))
    out = Text(style=ctx.style("quote"))
    if quoted is None:
        out.append(f"┃ quoting {str(ref)[:12]} (not held here)")
        return out
    out.append("┃ ")
    out.append(who(owner(quoted), ctx.name_of(owner(quoted), quoted.name)),
               ctx.style("author"))
    lines = (quoted.text or "").splitlines()[:QUOTE_LINES] or [""]
    for line in lines:
        out.append("\n┃ ")
        out.append(line)
    return out


WHO = "{who}"  # in a row's note: its entry's author


def note_text(row: Row, ctx: Context) -> str:
    """A row's note with its author named as known now."""
    if not row.note or WHO not in row.note:
        return row.note or ""
    author = owner(row.entry)
    return row.note.replace(WHO, who(author, ctx.name_of(author, row.entry.name)))


def row_text(row: Row, ctx: Context) -> Text:
    """The whole row: note, header, context, body (or folded warning), quote, counts."""
    post = row.post
    parts: list[Text] = []
    if row.note:
        parts.append(Text(note_text(row, ctx), ctx.style("note")))
    parts.append(header_line(post, ctx))
    if row.shown is None and post.type not in ("post", "repost"):
        parts.append(Text(describe(post, ctx), ctx.style("dim")))
        return Text("\n").join(parts)
    context = context_line(post, ctx)
    if context is not None:
        parts.append(context)
    parts.extend(_body(row, post, ctx))
    counts = counts_line(post, ctx)
    if counts is not None:
        parts.append(counts)
    return Text("\n").join(parts)


def _body(row: Row, post: EntryView, ctx: Context) -> list[Text]:
    if post.deleted:
        return [Text("(deleted by its author)", ctx.style("deleted"))]
    if post.type == "repost":  # a repost whose target we do not hold
        return [Text(f"reposted {post.text or ''}… (not held here)", ctx.style("dim"))]
    out: list[Text] = []
    cw = (post.content or {}).get("cw")
    if cw and not row.opened:
        out.append(Text(f"⚠ {cw} — z shows the post", ctx.style("cw")))
        return out
    if cw:
        out.append(Text(f"⚠ {cw}", ctx.style("cw")))
    out.append(body_text(post.text or "", ctx))
    out.extend(attachment_text(item, facts_style=ctx.style("dim"))
               for item in attachments_of(post))
    quote = quote_block(post, ctx)
    if quote is not None:
        out.append(quote)
    return out


def describe(view: EntryView, ctx: Context) -> str:
    """A one-line description of a non-post entry (follow, about, reaction…)."""
    c = view.content or {}
    feed = str(c.get("feed", ""))
    target = who(feed, ctx.names.get(feed)) if feed else ""
    if view.type == "follow":
        return f"followed {'you' if feed in (ctx.me, ctx.my_account) else target}"
    return {
        "unfollow": f"unfollowed {target}",
        "block": f"blocked {target}",
        "unblock": f"unblocked {target}",
        "react": f"reacted {view.text}",
        "about": f"updated their profile: {view.text}",
        "delete": "deleted an entry",
        "relays": "published relay addresses",
    }.get(view.type, f"a {view.type} entry")


def search_text(row: Row, ctx: Context) -> str:
    """The plain text a find (ctrl+f) matches against."""
    post = row.post
    name = ctx.name_of(owner(post), post.name) or ""
    described = " ".join(item.label for item in attachments_of(post))
    return (f"{name} {owner(post)} {post.author} {post.text or ''} "
            f"{note_text(row, ctx)} {described}").casefold()
