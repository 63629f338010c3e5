"""Workers that end with their screen.

Rule: a screen's workers (its loaders and node calls) are cancelled as soon as the screen
starts being removed, before its widgets are. Textual cancels a node's workers only at its
Unmount, which comes after its children have been removed: a loader whose node call
answered in between found its widgets gone (NoMatches '#qr' when the app quit during a Me
reload; NoMatches PostList when a profile was closed while it reloaded after a block).
"""

from __future__ import annotations

from typing import cast

from textual.dom import DOMNode
from textual.messages import Prune


class EndsWorkersFirst:
    """Mixin for screens: their workers end when their removal begins.

    Not a DOMNode itself: Textual takes a class's CSS type names from its first DOMNode
    base only, so a DOMNode mixin listed first hid `Screen`/`ModalScreen` from every rule
    (screens lost their opaque background)."""

    async def on_prune(self, event: Prune) -> None:
        # Not an override: Textual runs the handler of every class in the MRO, from the
        # subclass up, so Widget.on_prune (which closes the screen, then removes its
        # children) still runs, after this one.
        node = cast(DOMNode, self)
        node.workers.cancel_node(node)
