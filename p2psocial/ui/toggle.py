"""`l`, `L` and `b` on a post: react or repost, and the same key again takes it back.

Rules:
- What I already gave a post comes with its view (`my_reactions`, `my_repost`), so the key
  knows whether to give or to take back.
- The mark shown may be stale (I reacted from the CLI meanwhile): a give the node finds
  already given, or a take-back it finds already taken back, is what the user wanted, not an
  error.
- After the node has done it, the post's counts and my marks are fetched from the node and
  set in every list on the screen stack that shows the post, and taking back a repost drops
  my repost's row (the delete that arrives points at my entry, not at the post).
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable
from typing import Any

from textual.app import App

from p2psocial.core.errors import AlreadyDone, NothingToUndo
from p2psocial.runtime.views import EntryView
from p2psocial.ui.backend import UiBackend
from p2psocial.ui.base import Host, node_call
from p2psocial.ui.postlist import PostList
from p2psocial.ui.render import Row
from p2psocial.ui.rows import refresh_counts


def toggle_reaction(app: App[Any], host: Host, row: Row, reaction: str) -> None:
    """React to the row's post with `reaction`, or take that reaction back."""
    ref = row.post.hash
    if reaction in row.post.my_reactions:
        _toggle(app, host, ref, lambda b: b.unreact(ref, reaction), f"{reaction} taken back")
    else:
        _toggle(app, host, ref, lambda b: b.react(ref, reaction), f"{reaction} sent")


def toggle_repost(app: App[Any], host: Host, row: Row) -> None:
    """Repost the row's post, or take my repost back."""
    ref, me = row.post.hash, host.state.me
    if not row.post.my_repost:
        _toggle(app, host, ref, lambda b: b.repost(ref), "Reposted")
        return

    def drop_my_repost_rows() -> None:
        for post_list in _lists(app):
            post_list.remove_rows(lambda r: not (
                r.entry.type == "repost" and r.entry.author == me and r.post.hash == ref))
    _toggle(app, host, ref, lambda b: b.unrepost(ref), "Repost taken back",
            after=drop_my_repost_rows)


def _toggle(app: App[Any], host: Host, ref: str,
            call: Callable[[UiBackend], Awaitable[object]], success: str, *,
            after: Callable[[], None] | None = None) -> None:
    async def run(backend: UiBackend) -> list[EntryView]:
        with contextlib.suppress(AlreadyDone, NothingToUndo):  # the mark shown was stale
            await call(backend)
        return await backend.entries([ref])

    def done(fresh: list[EntryView]) -> None:
        for post_list in _lists(app):
            changed = refresh_counts(post_list.rows, fresh)
            if changed:
                post_list.rows_changed(changed)
        if after is not None:
            after()
    node_call(app, host, run, done=done, success=success)


def _lists(app: App[Any]) -> list[PostList]:
    return [p for screen in app.screen_stack for p in screen.query(PostList)]
