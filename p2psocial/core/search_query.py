"""A user's search words turned into an SQLite FTS5 query (pure: text in, text out).

Rules (the syntax `p2psocial search` documents):
- Words are searched as typed, all of them (AND): any text is a literal search, so FTS5's own
  operators (AND, OR, NOT, NEAR, `-`, `:`, `(`, `^`, `+`) are words like any other.
- `"two words"` is a phrase; `word*` matches words starting with `word` (at least
  MIN_PREFIX letters or digits); `#word` matches posts tagged `word` (the whole tag, case
  and accents aside: the index holds each tag between TAG_MARK words).
- A word is what FTS5's unicode61 tokenizer reads: letters and digits. Punctuation and emoji
  separate words and are not searchable, so `c++` finds `c`, `don't` the phrase `don t`.
- Every term becomes an FTS5 string (`"…"`, inner quotes doubled, a NUL a space), so no
  input reaches FTS5 as syntax; what cannot be searched (an unclosed quote, nothing but
  punctuation or emoji, too many terms, too long) raises UsageError with one line saying why.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from p2psocial.core.errors import UsageError

MAX_QUERY_CHARS = 500
MAX_TERMS = 16
MIN_PREFIX = 2
MAX_TAG_CHARS = 64
TAG_MARK = "xtagx"  # written around and between a post's tags in the index (see tags_column)

_TERM_RE = re.compile(r'"([^"]*)"|(\S+)')
_WORD_CHAR_RE = re.compile(r"[^\W_]")  # what unicode61 keeps in a token (letters, digits)


@dataclass(frozen=True, slots=True)
class SearchQuery:
    """A parsed query: `match` is the FTS5 MATCH expression over the post index; `words` the
    plain words and phrases (for the profile index, which has no tags column)."""

    match: str
    words: str | None  # None: the query names only tags


def quote(text: str) -> str:
    """`text` as one FTS5 string: searched as a phrase of its words, never as syntax. A NUL
    (which ends FTS5's reading of the query) separates words, as it does in indexed text."""
    return '"' + text.replace('"', '""').replace("\x00", " ") + '"'


def has_words(text: str) -> bool:
    """Whether `text` holds anything the tokenizer indexes (a letter or a digit)."""
    return _WORD_CHAR_RE.search(text) is not None


def parse_query(text: str) -> SearchQuery:
    """The FTS5 query for what a user typed.

    Raises:
        UsageError: nothing searchable, an unclosed quote, too long or too many terms.
    """
    if len(text) > MAX_QUERY_CHARS:
        raise UsageError(f"a search is at most {MAX_QUERY_CHARS} characters, not {len(text):,}")
    if text.count('"') % 2:
        raise UsageError('the search has an unclosed quote: close it ("like this") to '
                         "search a phrase, or leave the quotes out")
    words: list[str] = []
    tags: list[str] = []
    for match in _TERM_RE.finditer(text):
        phrase, bare = match.group(1), match.group(2)
        if phrase is not None:
            if has_words(phrase):
                words.append(quote(phrase))
        elif bare.startswith("#") and has_words(bare[1:]):
            tags.append(tag_match(bare[1:]))
        elif bare.endswith("*") and has_words(bare):
            words.append(_prefix(bare.rstrip("*")))
        elif has_words(bare):
            words.append(quote(bare))
    terms = words + tags
    if not terms:
        raise UsageError("nothing to search for: give a word (letters or digits; punctuation "
                         "and emoji are not indexed)")
    if len(terms) > MAX_TERMS:
        raise UsageError(f"a search takes at most {MAX_TERMS} words, not {len(terms)}")
    return SearchQuery(match=" AND ".join(terms), words=" AND ".join(words) or None)


def tag_match(tag: str) -> str:
    """The FTS5 expression for posts tagged `tag` (given without its `#`).

    Raises:
        UsageError: the tag has no letters or digits, or is too long.
    """
    tag = tag.strip().removeprefix("#")
    if not has_words(tag):
        raise UsageError(f"not a tag: {tag!r:.80} (a tag has letters or digits)")
    if len(tag) > MAX_TAG_CHARS:
        raise UsageError(f"a tag is at most {MAX_TAG_CHARS} characters, not {len(tag):,}")
    return "tags : " + quote(f"{TAG_MARK} {tag} {TAG_MARK}")


def tags_column(tags: tuple[str, ...] | list[str]) -> str | None:
    """A post's tags as indexed: each between TAG_MARK words, so the phrase of one tag
    (`xtagx foo bar xtagx` for `#foo-bar`) matches that tag only, not `#foo` next to `#bar`
    or `#foo-bar-baz`."""
    if not tags:
        return None
    return f" {TAG_MARK} ".join(["", *tags, ""]).strip()


def _prefix(stem: str) -> str:
    letters = len(_WORD_CHAR_RE.findall(stem))
    if letters < MIN_PREFIX or not _WORD_CHAR_RE.match(stem[-1]):
        raise UsageError(f"`{stem}*`: a word ending in * needs at least {MIN_PREFIX} letters "
                         "or digits before the *")
    return quote(stem) + " *"
