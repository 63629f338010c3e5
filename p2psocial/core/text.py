"""Reading a post's text: the @mentions and #tags a writer typed.

Rules:
- A mention is `@` followed by a handle (`@12D3KooW…`); it names that feed.
- A tag is `#` followed by letters, digits, `_` or `-`, at most MAX_TAG_CHARS; tags are
  kept as typed, de-duplicated without regard to case, in order of first appearance.
- `@` followed by a word that is not a handle (`@Ana`, `@ana.lopez`) is a name a writer
  typed: a client resolves it to a handle before posting (p2psocial.runtime.names). A name
  is compared without whitespace and case: `@AnaLopez` names "Ana Lopez".
"""

from __future__ import annotations

import re

from p2psocial.core import limits
from p2psocial.core.errors import HandleError
from p2psocial.core.identity import parse_handle

MENTION_RE = re.compile(r"(?<![\w@])@([1-9A-HJ-NP-Za-km-z]{46,60})")
NAME_RE = re.compile(r"(?<![\w@])@(\w+(?:[.\-]\w+)*)")
TAG_RE = re.compile(rf"(?<![\w#&])#(\w[\w-]{{0,{limits.MAX_TAG_CHARS - 1}}})")


def mentions_in(text: str) -> list[bytes]:
    """Keys of the handles mentioned in `text`, in order, without repeats."""
    found: dict[bytes, None] = {}
    for match in MENTION_RE.finditer(text):
        try:
            found[parse_handle(match.group(1))] = None
        except HandleError:
            continue
    return list(found)[: limits.MAX_MENTIONS]


def tags_in(text: str) -> list[str]:
    """Tags in `text` without their `#`, in order, without case-insensitive repeats."""
    seen: dict[str, str] = {}
    for match in TAG_RE.finditer(text):
        seen.setdefault(match.group(1).casefold(), match.group(1))
    return list(seen.values())[: limits.MAX_TAGS]


def name_key(name: str) -> str:
    """A name as compared: without whitespace, case-folded."""
    return "".join(name.split()).casefold()


def mention_form(name: str) -> str:
    """How a name is written after `@`: without whitespace."""
    return "".join(name.split())


def names_in(text: str) -> list[re.Match[str]]:
    """The `@name` tokens of `text` that are not handles, in order."""
    out = []
    for match in NAME_RE.finditer(text):
        try:
            parse_handle(match.group(1))
        except HandleError:
            out.append(match)
    return out
