"""`l`, `L` and `b` on a post: react or repost, and the same key again takes it back.

Rules:
- What I already gave a post comes with its view (`my_reactions`, `my_repost`), so the key
  knows whether to give or to take back; the node refuses a second reaction or repost anyway.
- After the node has done it, every list on the screen stack that shows the post is updated
  in place: giving sets my mark (the count grows when the new entry arrives, as any entry
  does); taking back clears my mark, lowers the count and drops my repost's row (the delete
  that arrives points at my entry, not at the post, so nothing else would).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

from textual.app import App

from p2psocial.runtime.views import EntryView
from p2psocial.ui.base import Host, node_call
from p2psocial.ui.postlist import PostList
from p2psocial.ui.render import Row


def toggle_reaction(app: App[Any], host: Host, row: Row, reaction: str) -> None:
    """React to the row's post with `reaction`, or take that reaction back."""
    post = row.post
    ref = post.hash
    if reaction in post.my_reactions:
        node_call(app, host, lambda b: b.unreact(ref, reaction),
                  done=lambda _: _update(app, ref, lambda p: _unreacted(p, reaction)),
                  success=f"{reaction} taken back")
    else:
        node_call(app, host, lambda b: b.react(ref, reaction),
                  done=lambda _: _update(app, ref, lambda p: replace(
                      p, my_reactions=sorted({*p.my_reactions, reaction}))),
                  success=f"{reaction} sent")


def toggle_repost(app: App[Any], host: Host, row: Row) -> None:
    """Repost the row's post, or take my repost back."""
    ref, me = row.post.hash, host.state.me
    if row.post.my_repost:
        def undone(_: object) -> None:
            _update(app, ref, lambda p: replace(p, my_repost=False,
                                                reposts=max(0, p.reposts - 1)))
            for post_list in _lists(app):
                post_list.remove_rows(lambda r: not (
                    r.entry.type == "repost" and r.entry.author == me and r.post.hash == ref))
        node_call(app, host, lambda b: b.unrepost(ref), done=undone,
                  success="Repost taken back")
    else:
        node_call(app, host, lambda b: b.repost(ref),
                  done=lambda _: _update(app, ref, lambda p: replace(p, my_repost=True)),
                  success="Reposted")


def _unreacted(post: EntryView, reaction: str) -> EntryView:
    reactions = dict(post.reactions)
    if reactions.get(reaction, 0) > 1:
        reactions[reaction] -= 1
    else:
        reactions.pop(reaction, None)
    return replace(post, reactions=reactions,
                   my_reactions=[r for r in post.my_reactions if r != reaction])


def _lists(app: App[Any]) -> list[PostList]:
    return [p for screen in app.screen_stack for p in screen.query(PostList)]


def _update(app: App[Any], ref: str, change: Callable[[EntryView], EntryView]) -> None:
    """Apply `change` to the post `ref` in every row that shows it."""
    for post_list in _lists(app):
        changed = []
        for row in post_list.rows:
            if row.post.hash != ref:
                continue
            if row.shown is not None:
                row.shown = change(row.shown)
            else:
                row.entry = change(row.entry)
            changed.append(row)
        if changed:
            post_list.rows_changed(changed)
