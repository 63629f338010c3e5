"""Naming people: a handle, or the name of someone this node knows, resolved to one feed.

Rules:
- A handle (a leading `@` allowed) names its feed, with no lookup. Text that starts like a
  handle (`12D3KooW…`) but is not one is a mistyped handle, reported as such.
- Anything else is a name. It names each known feed (one whose profile this node holds,
  mine included) whose name equals it without whitespace and case (p2psocial.core.text).
- A name longer than any name can be (limits.MAX_NAME_CHARS) names nobody, without a lookup.
- A name must name exactly one feed. None, or several, is a HandleError in one line that
  lists the candidates, so no verb acts on a feed the user did not mean.
- In a post's text every `@name` is resolved the same way and written as `@<handle>`, the
  form every client reads as a mention (docs/protocol.md, "post").
- A feed is *seen* if anything here points at it: entries or a profile held, an entry held
  that mentions it or follows, unfollows, blocks or unblocks it, addresses learnt from an
  invite, or a connected peer with that handle. Following a feed never seen is most likely a
  mistyped handle, so it needs a confirmation (`follow --unknown`, a question in the UI).
"""

from __future__ import annotations

from collections.abc import Iterable

from p2psocial.core import limits
from p2psocial.core.errors import HandleError, UsageError
from p2psocial.core.identity import handle_of, parse_handle
from p2psocial.core.text import mention_form, name_key, names_in
from p2psocial.store.sqlite import Profile, Store

HANDLE_START = "12D3KooW"
MAX_LISTED = 5
IN_POST = "nothing was posted: in the text,"


async def resolve(store: Store, who: str) -> bytes:
    """The key of the feed `who` names: a handle, or the name of exactly one known feed.

    Raises:
        HandleError: `who` is not a valid handle and names no known feed, or several.
    """
    text = who.strip().removeprefix("@")
    try:
        return parse_handle(text)
    except HandleError:
        if text.startswith(HANDLE_START) or not text:
            raise
    found = await candidates(store, text)
    if len(found) == 1:
        return found[0].author
    if not found:
        raise HandleError(f"{who.strip()!r:.80} is not a handle, and no one you know is called "
                         "that: give their handle (`p2psocial feeds` lists who is known)")
    raise HandleError(f"{who.strip()!r:.80} could be {listing(found)}: give the handle")


async def candidates(store: Store, name: str) -> list[Profile]:
    """Known feeds whose name is `name` (without whitespace and case)."""
    if len(mention_form(name)) > limits.MAX_NAME_CHARS:
        return []  # no name is that long (and SQLite refuses a LIKE pattern over 50 kB)
    key = name_key(name)
    return [p for p in await store.named(name) if p.name and name_key(p.name) == key]


def listing(found: list[Profile]) -> str:
    """Candidates as `Name (handle), …` for a one-line error."""
    shown = [f"{p.name} ({handle_of(p.author)})" for p in found[:MAX_LISTED]]
    more = f" and {len(found) - MAX_LISTED} more" if len(found) > MAX_LISTED else ""
    return " or ".join(shown) + more


async def resolve_mentions(store: Store, text: str) -> str:
    """`text` with every `@name` written as `@<handle>` of the one feed it names.

    Raises:
        UsageError: an `@name` names no known feed, or several (or is a broken handle).
    """
    out, last = [], 0
    for match in names_in(text):
        name = match.group(1)
        try:
            key = await resolve(store, "@" + name)
        except HandleError as exc:
            raise UsageError(f"{IN_POST} {exc}") from None
        out.append(text[last:match.start(1)] + handle_of(key))
        last = match.end(1)
    return "".join(out) + text[last:]


async def seen(store: Store, key: bytes, hints: Iterable[str] = ()) -> bool:
    """True if anything held points at the feed `key` (see the rules; connected peers are
    the caller's to check); `hints` are the addresses learnt for it."""
    if list(hints):
        return True
    if (await store.feed_state(key)).hi > 0:
        return True
    profile = await store.profile(key)
    return bool(profile.name or profile.bio) or await store.referenced(key)
