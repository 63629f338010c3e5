"""core/search_query.py: what a user types becomes a literal FTS5 match (the documented
syntax), or one UsageError line. tests/store/test_search_index.py runs every output against
FTS5 itself."""

from __future__ import annotations

import pytest

from p2psocial.core.errors import UsageError
from p2psocial.core.search_query import (
    MAX_QUERY_CHARS,
    MAX_TERMS,
    TAG_MARK,
    SearchQuery,
    parse_query,
    tag_match,
)


@pytest.mark.parametrize(("typed", "match"), [
    ("river walk", '"river" AND "walk"'),
    ("a OR b NOT c", '"a" AND "OR" AND "b" AND "NOT" AND "c"'),  # operators are words
    ("NEAR(a b)", '"NEAR(a" AND "b)"'),
    ("col:x", '"col:x"'),
    ('"two words" alone', '"two words" AND "alone"'),
    ('say"hi" there', '"say""hi""" AND "there"'),  # even quotes inside a word: literal
    ("riv*", '"riv" *'),
    ("c++ don't", '"c++" AND "don\'t"'),
    ("café 🎉", '"café"'),  # the emoji is not indexed: left out
    ("a\x00b", '"a b"'),  # a NUL would end FTS5's reading of the query
])
def test_words_phrases_and_prefixes_are_literal(typed: str, match: str) -> None:
    query = parse_query(typed)
    assert query == SearchQuery(match=match, words=match)


def test_a_tag_is_matched_whole_in_the_tags_column_and_not_in_profiles() -> None:
    query = parse_query("#Rust garden")
    assert query.match == f'"garden" AND tags : "{TAG_MARK} Rust {TAG_MARK}"'
    assert query.words == '"garden"'
    assert parse_query("#rust").words is None
    assert tag_match("#c++") == tag_match("c++") == f'tags : "{TAG_MARK} c++ {TAG_MARK}"'


@pytest.mark.parametrize(("typed", "why"), [
    ('"unclosed', "unclosed quote"),
    ("", "nothing to search for"),
    (" \t\n", "nothing to search for"),
    ("* ** #", "nothing to search for"),
    ("🎉 !!", "nothing to search for"),
    ("r*", "at least 2 letters"),
    ("x" * (MAX_QUERY_CHARS + 1), f"at most {MAX_QUERY_CHARS} characters"),
    (" ".join(["w"] * (MAX_TERMS + 1)), f"at most {MAX_TERMS} words"),
])
def test_what_cannot_be_searched_is_one_line(typed: str, why: str) -> None:
    with pytest.raises(UsageError, match=why) as err:
        parse_query(typed)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize("tag", ["", "#", "🎉", "t" * 65])
def test_a_tag_without_letters_or_too_long_is_refused(tag: str) -> None:
    with pytest.raises(UsageError):
        tag_match(tag)
