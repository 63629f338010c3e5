"""Wrapping a py-libp2p method in place, once: the shared step of the internals we patch.

Rules:
- `wrap_method(owner, name, wrap, what=...)` replaces `owner.name` with `wrap(original)`.
- Idempotent: a method that is already our wrapper (it carries a mark) is left alone, so
  installing twice never wraps twice.
- A missing owner or method (a libp2p upgrade moved it) is a no-op logged at DEBUG as
  `what`: libp2p's own behaviour stays, and each patch's tests catch the change.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

logger = logging.getLogger(__name__)

_MARK = "_p2psocial_wrapped"


def wrap_method(owner: Any, name: str, wrap: Callable[[Callable[..., Any]], Callable[..., Any]],
                *, what: str) -> None:
    """Replace `owner.name` by `wrap(original)` unless it is wrapped already or missing."""
    original = None if owner is None else getattr(owner, name, None)
    if original is None:
        logger.debug("libp2p internals changed: %s", what)
        return
    if getattr(original, _MARK, False):
        return
    wrapped = wrap(original)
    setattr(wrapped, _MARK, True)
    setattr(owner, name, wrapped)
