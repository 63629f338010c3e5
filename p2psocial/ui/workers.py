"""Workers that end with their screen.

Rule: a screen's workers (its loaders and node calls) are cancelled as soon as the screen
starts being removed, before its widgets are. Textual cancels a node's workers only at its
Unmount, which comes after its children have been removed: a loader whose node call
answered in between found its widgets gone (NoMatches '#qr' when the app quit during a Me
reload; NoMatches PostList when a profile was closed while it reloaded after a block).
"""

from __future__ import annotations

from textual.dom import DOMNode
from textual.messages import Prune


class EndsWorkersFirst(DOMNode):
    """Mixin for screens: their workers end when their removal begins."""

    async def on_prune(self, event: Prune) -> None:
        # Not an override: Textual runs the handler of every class in the MRO, from the
        # subclass up, so Widget.on_prune (which closes the screen, then removes its
        # children) still runs, after this one.
        self.workers.cancel_node(self)
