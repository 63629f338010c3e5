"""Turning views into list rows: reposts show their target, replies and quotes their context.

The entries a page points at (repost targets, parents, quotes) are fetched in one call per
page and kept in the shared state, so rendering never waits on the node.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace

from p2psocial.runtime.views import EntryView, NotificationView
from p2psocial.ui.backend import UiBackend
from p2psocial.ui.render import WHO, Row, who
from p2psocial.ui.state import UiState

MAX_RELATED = 5000
MAX_COUNT_REFRESH = 200  # shown posts refetched after a delete of something not shown
REF_KEYS = ("target", "parent", "quote")


def _refs(views: Iterable[EntryView], state: UiState) -> set[str]:
    """What `views` point at and is not known yet. A repost's target is fetched again even
    if known: it is shown in full, with counts that may have changed since."""
    out = set()
    for view in views:
        content = view.content or {}
        for key in REF_KEYS:
            ref = content.get(key)
            if isinstance(ref, str) and len(ref) == 64 and (
                    ref not in state.related or view.type == "repost"):
                out.add(ref)
    return out


async def fetch_related(backend: UiBackend, state: UiState, views: Sequence[EntryView]) -> None:
    """Fetch what `views` point at (two levels: a reposted reply's parent too)."""
    if len(state.related) > MAX_RELATED:
        state.related.clear()
    layer: Sequence[EntryView] = views
    for _ in range(2):
        refs = _refs(layer, state)
        if not refs:
            return
        layer = await backend.entries(sorted(refs))
        for view in layer:
            state.related[view.hash] = view
        state.learn(layer)


def name(state: UiState, view: EntryView) -> str:
    handle = state.owner(view)
    return who(handle, state.names.get(handle) or view.name)


def timeline_row(state: UiState, view: EntryView) -> Row | None:
    """The row of a timeline entry, or None if it (or what it reposts) is hidden."""
    if state.hides(view):
        return None
    if view.type != "repost":
        return Row(entry=view)
    target = state.related.get(str((view.content or {}).get("target", "")))
    if target is not None and state.hides(target):
        return None
    return Row(entry=view, shown=target, note=f"⇄ {WHO} reposted")


async def timeline_rows(backend: UiBackend, state: UiState,
                        views: Sequence[EntryView]) -> list[Row]:
    """Rows for a page of timeline entries (hidden authors left out)."""
    state.learn(views)
    await fetch_related(backend, state, views)
    return [row for view in views if (row := timeline_row(state, view)) is not None]


_NOTES = {
    "mention": "@ {who} mentioned you",
    "reply": "↩ {who} replied to you",
    "quote": "❝ {who} quoted your post",
    "react": "{reaction} {who} reacted to your post",
    "repost": "⇄ {who} reposted your post",
    "follow": "+ {who} followed you",
}


def notification_row(state: UiState, item: NotificationView) -> Row | None:
    """The row of a notification: the note says what happened; it shows the post concerned
    (their post for mentions, replies and quotes; mine for reactions and reposts)."""
    entry = item.entry
    if state.hides(entry):
        return None
    note = _NOTES.get(item.kind, "{who}: " + item.kind).format(  # WHO: named when drawn
        who=WHO, reaction=entry.text or "")
    if item.kind == "follow":  # the row itself reads "<name> … followed you"
        return Row(entry=entry, kind=item.kind)
    shown: EntryView | None = entry if entry.type == "post" else item.target
    return Row(entry=entry, shown=shown, note=note, kind=item.kind)


def sort_key(view: EntryView, now: int) -> tuple[int, str, int]:
    """Where an entry sits on a timeline (newest first): its cursor, or for a live entry
    its time capped at now (as the store does for future-dated entries)."""
    if view.cursor:
        return (int(view.cursor[0]), str(view.cursor[1]), int(view.cursor[2]))
    return (min(view.timestamp, now), view.author, view.seq)


def merge_positions(existing: Sequence[Row], new: Sequence[Row], now: int, *,
                    complete: bool) -> tuple[list[Row], list[int]]:
    """Where new rows go in a newest-first list: (rows to insert, ascending positions in the
    resulting list). Rows already present are skipped; rows older than the last one are
    skipped too unless the list is `complete` (they come with the next page)."""
    keys = [sort_key(r.entry, now) for r in existing]
    present = {r.key for r in existing}
    fresh = sorted((r for r in new if r.key not in present),
                   key=lambda r: sort_key(r.entry, now), reverse=True)
    out_rows: list[Row] = []
    positions: list[int] = []
    i = 0
    for row in fresh:
        key = sort_key(row.entry, now)
        while i < len(keys) and keys[i] > key:
            i += 1
        if i == len(keys) and keys and not complete:
            break
        positions.append(i + len(out_rows))
        out_rows.append(row)
    return out_rows, positions


def apply_counts(rows: Sequence[Row], views: Sequence[EntryView]) -> list[Row]:
    """Fold shown posts whose author deleted them; returns the rows that changed.

    Counts are not bumped here: a reaction or repost counts once per author and an undo is a
    delete of the react/repost entry, which names that entry, not the post. The node's counts
    are fetched instead (`stale_counts`, `refresh_counts`)."""
    by_hash = _rows_by_hash(rows)
    changed: list[Row] = []
    for view in views:
        target = (view.content or {}).get("target")
        if view.type != "delete" or not target:
            continue
        for row in by_hash.get(str(target), []):
            if row.post.author != view.author:
                continue
            _set_post(row, replace(row.post, deleted=True, text=None, content=None))
            changed.append(row)
    return changed


def stale_counts(rows: Sequence[Row], views: Sequence[EntryView]) -> set[str]:
    """Hashes of shown posts whose reply, repost or reaction counts `views` may change.

    A reply, react or repost names its post. A delete names the entry it takes back: if that
    is not a shown post, it may be someone's reaction or repost of one, so every shown post
    (at most MAX_COUNT_REFRESH) is stale."""
    shown = _rows_by_hash(rows)
    stale: set[str] = set()
    for view in views:
        content = view.content or {}
        if view.type == "post" and content.get("parent"):
            target = str(content["parent"])
        elif view.type in ("react", "repost", "delete") and content.get("target"):
            target = str(content["target"])
        else:
            continue
        if target in shown:
            stale.add(target)
        elif view.type == "delete":
            stale.update(list(shown)[:MAX_COUNT_REFRESH])
    return stale


def refresh_counts(rows: Sequence[Row], fresh: Sequence[EntryView]) -> list[Row]:
    """Take the counts (and my marks) of `fresh` views into the rows that show those posts."""
    by_hash = _rows_by_hash(rows)
    changed: list[Row] = []
    for view in fresh:
        for row in by_hash.get(view.hash, []):
            post = row.post
            if (post.replies, post.reposts, post.reactions, post.my_reactions,
                    post.my_repost) == (view.replies, view.reposts, view.reactions,
                                        view.my_reactions, view.my_repost):
                continue
            _set_post(row, replace(post, replies=view.replies, reposts=view.reposts,
                                   reactions=view.reactions, my_reactions=view.my_reactions,
                                   my_repost=view.my_repost))
            changed.append(row)
    return changed


def _rows_by_hash(rows: Sequence[Row]) -> dict[str, list[Row]]:
    by_hash: dict[str, list[Row]] = {}
    for row in rows:
        by_hash.setdefault(row.post.hash, []).append(row)
    return by_hash


def _set_post(row: Row, post: EntryView) -> None:
    if row.shown is not None:
        row.shown = post
    else:
        row.entry = post
