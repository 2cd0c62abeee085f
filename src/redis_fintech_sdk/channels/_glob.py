r"""Redis-exact glob matching (``stringmatchlen``) for channel patterns.

Redis matches ``PSUBSCRIBE`` patterns (and ``KEYS``/``SCAN MATCH``, ACL channel rules) with
``stringmatchlen`` in ``src/util.c``. Python's :mod:`fnmatch` differs from it in several
places (``[!…]`` vs ``[^…]``, backslash escapes, unterminated classes, ranges written
backwards), so a subscriber that pre-filters with fnmatch would disagree with the server.
This module is a byte-for-byte port of the current algorithm, case-sensitive as PSUBSCRIBE is.

Faithfully reproduced edge cases:

* ``*`` matches any run of bytes, including ``.`` and the empty run, but the empty *string*
  is never matched by a non-empty pattern: Redis's main loop stops as soon as either side
  is exhausted, so ``*`` does not match ``""``.
* ``?`` matches exactly one byte.
* ``[abc]``, ``[a-z]``, ``[^a-z]``: a range written backwards (``[z-a]``) is swapped; a
  ``\\`` inside a class escapes the next byte; ``]`` right after ``[`` closes an *empty*
  class (which matches nothing, or everything with ``^``).
* An unterminated class (``[abc`` at the end of the pattern) behaves as if closed.
* ``\\x`` matches ``x`` literally; a trailing lone ``\\`` matches a literal backslash.
* Bytes are compared as C ``char``, which is *signed* on x86-64 Linux: in a range, bytes
  ``0x80``-``0xFF`` sort *below* ``0x00``. Channel names allowed by :class:`Channel` are
  ASCII, so this only matters for foreign names.
* Recursion depth (one level per ``*`` that is backtracked into) is capped at 1000, as in
  Redis >= 7.2.6: deeper patterns simply do not match.
"""

from __future__ import annotations

__all__ = ["glob_escape", "glob_match", "has_glob_meta"]

_GLOB_META = frozenset(b"*?[]\\")
_MAX_NESTING = 1000


def _signed(byte: int) -> int:
    # C `char` is signed on the platforms Redis ships for (x86-64, and we pin to that).
    return byte - 256 if byte >= 128 else byte


def _to_bytes(value: str | bytes) -> bytes:
    return value.encode("utf-8") if isinstance(value, str) else bytes(value)


def glob_match(pattern: str | bytes, name: str | bytes) -> bool:
    """Tell whether ``name`` matches the Redis glob ``pattern``, exactly as Redis decides.

    Strings are encoded as UTF-8 and compared byte by byte, like the server does.

    Args:
        pattern: a Redis glob pattern (as given to ``PSUBSCRIBE``).
        name: a channel (or key) name.

    Returns:
        ``True`` when Redis would deliver a message published to ``name`` to a subscriber
        of ``pattern``.
    """
    return _match(_to_bytes(pattern), _to_bytes(name))


def _match(pat: bytes, s: bytes) -> bool:
    # Redis recurses once per '*'. Its CVE-2022-36021 fix (`skipLongerMatches`) means that
    # once the part after a '*' has been tried at every position and failed, the whole match
    # fails: so only the *latest* '*' is ever backtracked into, and the recursion is
    # equivalent to the classic two-cursor loop below (which Python's recursion limit could
    # not run 1000 levels deep). `depth` mirrors the C `nesting` argument.
    pend = len(pat)
    send = len(s)
    p = i = 0
    star_p = -1  # pattern index just after the latest '*', or -1
    star_i = 0  # where the current attempt after that '*' started in `s`
    depth = 0
    while True:
        # -- one "call" of stringmatchlen_impl, starting at (p, i) ------------------------
        failed = False
        while p < pend and i < send:
            c = pat[p]
            if c == 0x2A:  # '*'
                while p + 1 < pend and pat[p + 1] == 0x2A:
                    p += 1
                if p + 1 == pend:
                    return True
                if depth + 1 > _MAX_NESTING:
                    return False  # every nested attempt is refused, then skipLongerMatches
                depth += 1
                p += 1
                star_p, star_i = p, i
                continue
            if c == 0x3F:  # '?'
                i += 1
            elif c == 0x5B:  # '['
                p, ok = _class(pat, p + 1, s[i])
                if not ok:
                    failed = True
                    break
                i += 1
            else:
                if c == 0x5C and pend - p >= 2:  # '\\' escapes the next byte
                    p += 1
                if pat[p] != s[i]:
                    failed = True
                    break
                i += 1
            p += 1
            if i == send:
                while p < pend and pat[p] == 0x2A:
                    p += 1
                break
        if not failed and p == pend and i == send:
            return True
        # -- that attempt failed: the enclosing '*' swallows one more byte ---------------
        if star_p < 0:
            return False
        star_i += 1
        if star_i >= send:
            return False  # the '*' loop is exhausted: skipLongerMatches ends everything
        p, i = star_p, star_i


def _class(pat: bytes, p: int, ch: int) -> tuple[int, bool]:
    """Match byte ``ch`` against the class starting at ``pat[p]`` (just after ``[``).

    Returns the index of the class's closing byte (the ``]``, or the last byte of the
    pattern for an unterminated class) and whether ``ch`` is in the class.
    """
    pend = len(pat)
    negate = p < pend and pat[p] == 0x5E  # '^'
    if negate:
        p += 1
    matched = False
    while True:
        left = pend - p
        if left >= 2 and pat[p] == 0x5C:  # '\\' escapes inside a class
            p += 1
            if pat[p] == ch:
                matched = True
        elif left == 0:
            p -= 1  # unterminated class: step back so the caller's `p += 1` ends the pattern
            break
        elif pat[p] == 0x5D:  # ']'
            break
        elif left >= 3 and pat[p + 1] == 0x2D:  # 'x-y'
            start = _signed(pat[p])
            end = _signed(pat[p + 2])
            if start > end:
                start, end = end, start
            p += 2
            if start <= _signed(ch) <= end:
                matched = True
        elif pat[p] == ch:
            matched = True
        p += 1
    return p, matched != negate


def glob_escape(text: str) -> str:
    r"""Escape every glob metacharacter in ``text`` so it matches only itself.

    Args:
        text: a literal channel name or fragment.

    Returns:
        A pattern that matches exactly ``text`` (``*``, ``?``, ``[``, ``]`` and ``\\`` are
        prefixed with a backslash).
    """
    return "".join("\\" + ch if ch in "*?[]\\" else ch for ch in text)


def has_glob_meta(text: str | bytes) -> bool:
    r"""Tell whether ``text`` contains an unescaped-looking glob metacharacter.

    Args:
        text: a pattern or name.

    Returns:
        ``True`` if any of ``* ? [ ] \\`` occurs in ``text``.
    """
    return any(b in _GLOB_META for b in _to_bytes(text))
