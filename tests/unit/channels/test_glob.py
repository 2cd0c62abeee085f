"""Redis-exact glob matching.

CASES were produced by asking a real redis-server 7.0.15 (``KEYS`` uses the same
``stringmatchlen`` as ``PSUBSCRIBE``); the hypothesis test compares against a regex
translation that is unambiguous for well-formed patterns.
"""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from redis_fintech_sdk.channels import glob_escape, glob_match, has_glob_meta

CASES = [
    ("market.*", "market.price.AAPL", True),
    ("market.*", "market", False),
    ("market.?", "market.a", True),
    ("a[bc]d", "abd", True),
    ("a[bc]d", "aed", False),
    ("a[^bc]d", "aed", True),
    ("a[^bc]d", "abd", False),
    ("a[a-c]d", "abd", True),
    ("a[c-a]d", "abd", True),
    ("[abc", "b", True),
    ("[abc", "d", False),
    ("a[b", "ab", True),
    ("a[", "a", False),
    ("a[^", "ax", True),
    ("a[^", "a", False),
    ("a[]b", "ab", False),
    ("a[]b", "a]b", False),
    ("a[^]b", "axb", True),
    ("a\\*b", "a*b", True),
    ("a\\*b", "axb", False),
    ("a\\", "a\\", True),
    ("a\\", "a", False),
    ("\\", "\\", True),
    ("[\\]]", "]", True),
    ("[\\", "\\", True),
    ("[a-]", "-", False),
    ("[a-]", "b", False),
    ("[a-]", "^", True),
    ("[a-]x]", "_x]", False),
    ("[]-a]", "b", False),
    ("[]-a]", "]", False),
    ("**a", "xa", True),
    ("a**", "a", True),
    ("a*", "a", True),
    ("*a*", "a", True),
    ("?", "é", False),
    ("??", "é", True),
    ("[é]", "é", False),
    ("a*b*c", "abxbxc", True),
    ("a*b*c", "abxbx", False),
    ("*", "", False),
    ("**", "", False),
    ("", "", True),
    ("*?", "a", True),
    ("a?", "a", False),
    ("[a-c-e]", "d", False),
    ("[a-c-e]", "-", True),
    ("x[!a]y", "x!y", True),
    ("x[!a]y", "xby", False),
]


@pytest.mark.parametrize(("pattern", "name", "expected"), CASES)
def test_matches_redis(pattern: str, name: str, expected: bool) -> None:
    assert glob_match(pattern, name) is expected
    assert glob_match(pattern.encode(), name.encode()) is expected


def test_signed_char_ranges_like_x86_redis() -> None:
    # In C, (char)0xff == -1 < 'a': the range [a-\xff] is [-1, 'a'], so 0x80 is outside.
    assert glob_match(b"[a-\xff]", b"\xff")
    assert glob_match(b"[a-\xff]", b"\x00")
    assert not glob_match(b"[a-\xff]", b"\x80")


@pytest.mark.parametrize(("count", "expected"), [(999, True), (1000, True), (1001, False)])
def test_nesting_limit_matches_redis(count: int, expected: bool) -> None:
    # Verified against redis-server 7.0.15 (Debian, with the CVE-2024-31228 backport).
    name = "a" * count
    assert glob_match("*a" * count, name) is expected
    assert glob_match("a*" * count, name) is True


def test_pathological_pattern_is_fast() -> None:
    # Exponential before CVE-2022-36021; linear-ish now.
    assert not glob_match("a*" * 50 + "b", "a" * 5000)


# -- property tests ------------------------------------------------------------------------

_LIT = "ab.c"


def _to_regex(tokens: list[str]) -> str:
    out = []
    for tok in tokens:
        if tok == "*":
            out.append(".*")
        elif tok == "?":
            out.append(".")
        elif tok.startswith("["):
            negate = tok[1] == "^"
            body = tok[2:-1] if negate else tok[1:-1]
            out.append("[" + ("^" if negate else "") + re.escape(body).replace("\\-", "-") + "]")
        elif tok.startswith("\\"):
            out.append(re.escape(tok[1]))
        else:
            out.append(re.escape(tok))
    return "".join(out)


_token = st.one_of(
    st.sampled_from(list(_LIT)),
    st.just("*"),
    st.just("?"),
    st.sampled_from(["\\*", "\\?", "\\[", "\\\\", "\\a"]),
    st.builds(
        lambda neg, chars: "[" + ("^" if neg else "") + "".join(chars) + "]",
        st.booleans(),
        st.lists(st.sampled_from(list("abc.")), min_size=1, max_size=3),
    ),
    st.sampled_from(["[a-c]", "[^a-b]"]),
)
_names = st.text(alphabet="ab.c*?[\\", max_size=8)


@given(tokens=st.lists(_token, max_size=6), name=_names)
def test_agrees_with_regex_on_well_formed_patterns(tokens: list[str], name: str) -> None:
    pattern = "".join(tokens)
    expected = re.fullmatch(_to_regex(tokens), name, re.DOTALL) is not None
    if name == "" and pattern != "":
        expected = False  # Redis: an empty name never matches a non-empty pattern
    assert glob_match(pattern, name) is expected


@given(st.text(min_size=1, max_size=20), st.text(max_size=20))
def test_escape_matches_only_itself(text: str, other: str) -> None:
    pattern = glob_escape(text)
    assert glob_match(pattern, text)
    assert glob_match(pattern, other) is (other == text)


@given(st.text(alphabet="ab*?[]\\^-", max_size=12), st.binary(max_size=8))
def test_never_crashes(pattern: str, name: bytes) -> None:
    assert glob_match(pattern, name) in (True, False)


def test_has_glob_meta() -> None:
    assert has_glob_meta("market.*")
    assert not has_glob_meta("market.price.AAPL")
