"""Muted words: what a muted word is and which text it hides (pure; stored by store/mutes.py).

Rules:
- A muted word is what the user typed, stripped, with runs of whitespace made one space and
  case folded ("Spoilers " and "spoilers" are one mute). Empty, or over MAX_WORD_CHARS, is
  refused.
- A word hides a text that contains it with no word character right before or after it, case
  aside: "cat" hides "Cat!" and "#cat" but not "category"; "#cat" hides "#cat" only; a word of
  several words hides that phrase.
- A post is hidden if its text, its content warning or one of its tags (read as `#tag`)
  holds a muted word.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from p2psocial.core.content import Post
from p2psocial.core.errors import UsageError

MAX_WORD_CHARS = 100


def normalise_word(word: str) -> str:
    """The stored form of a muted word.

    Raises:
        UsageError: the word is empty (or only whitespace), or too long.
    """
    folded = " ".join(word.split()).casefold()
    if not folded:
        raise UsageError("a muted word cannot be empty")
    if len(folded) > MAX_WORD_CHARS:
        raise UsageError(f"a muted word is at most {MAX_WORD_CHARS} characters, not "
                         f"{len(folded):,}")
    return folded


class WordFilter:
    """The muted words, compiled once into one pattern."""

    def __init__(self, words: Iterable[str]) -> None:
        self.words = tuple(sorted(set(words)))
        alternatives = "|".join(re.escape(w).replace(r"\ ", r"\s+") for w in self.words)
        self._pattern = (re.compile(rf"(?<!\w)(?:{alternatives})(?!\w)")
                         if self.words else None)

    def __bool__(self) -> bool:
        return self._pattern is not None

    def hides_text(self, text: str | None) -> bool:
        """True if `text` holds a muted word."""
        if self._pattern is None or not text:
            return False
        return self._pattern.search(text.casefold()) is not None

    def hides_post(self, post: Post) -> bool:
        """True if the post's text, content warning or a tag holds a muted word."""
        return (self.hides_text(post.text) or self.hides_text(post.cw)
                or any(self.hides_text("#" + tag) for tag in post.tags))
