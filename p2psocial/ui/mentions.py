"""Completing `@name` in compose from the people this node knows (Tab).

Rules:
- The word before the cursor after an `@` is a prefix of a name written without whitespace
  (p2psocial.core.text.mention_form), compared without case.
- One person matches: the word becomes their name. Several people share that very name:
  they are listed with their handles (the node refuses an @name naming several feeds), and
  the word stays. Several names match: the word grows to what they share, and they are
  listed. None: nothing changes.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from p2psocial.core.text import mention_form, name_key

PREFIX_RE = re.compile(r"(?<![\w@])@(\w[\w.\-]*)$")


@dataclass(frozen=True, slots=True)
class Completion:
    """What Tab does: `text` replaces the prefix (None: leave it); `choices` to show."""

    text: str | None
    choices: list[str]


def prefix_before(line: str) -> str | None:
    """The `@word` being typed at the end of `line`, without the `@`, or None."""
    match = PREFIX_RE.search(line)
    return None if match is None else match.group(1)


def complete(prefix: str, people: Mapping[str, str]) -> Completion:
    """Complete `prefix` against `people` (handle → name)."""
    want = name_key(prefix)
    forms: dict[str, list[str]] = {}  # name key → handles
    shown: dict[str, str] = {}  # name key → the name as written
    for handle, name in people.items():
        key = name_key(name)
        if key and key.startswith(want):
            forms.setdefault(key, []).append(handle)
            shown.setdefault(key, mention_form(name))
    if not forms:
        return Completion(None, [])
    if len(forms) == 1:
        [(key, handles)] = forms.items()
        if len(handles) == 1:
            return Completion(shown[key] + " ", [])
        return Completion(None, [f"{shown[key]} ({h})" for h in sorted(handles)])
    common = _common_prefix(list(forms))
    choices = sorted(shown[k] for k in forms)
    grown = choices[0][:len(common)] if len(common) > len(want) else None
    return Completion(grown, choices)


def _common_prefix(keys: list[str]) -> str:
    first, last = min(keys), max(keys)
    i = 0
    while i < min(len(first), len(last)) and first[i] == last[i]:
        i += 1
    return first[:i]
