"""Typed channel names and patterns: the grammar, its validation, tenants and hash tags.

Grammar (documented in ``docs/channels.md``)::

    name       := [ "tenant:" TENANT ":" ] DOMAIN "." KIND { "." QUALIFIER }
    DOMAIN     := lower-case word   [a-z][a-z0-9_-]*        e.g. market, notify, trade
    KIND       := lower-case word   [a-z][a-z0-9_-]*        e.g. price, depth, user, exec
    QUALIFIER  := WORD | "{" WORD "}"                       a "{…}" qualifier is a hash tag
    WORD       := [A-Za-z0-9_-]+                            e.g. AAPL, XNAS, 42, high
    TENANT     := WORD

Limits: 2-16 segments, each at most 64 characters, the whole name at most 256 characters,
at most one hash tag. Glob metacharacters, whitespace, ``:`` and ``.`` inside a segment are
refused, so every valid channel name is also a pattern that matches only itself.
"""

from __future__ import annotations

import re
from typing import Final, TypeAlias

from redis_fintech_sdk.errors import ConfigurationError

from ._glob import glob_match
from ._keyslot import keyslot

__all__ = [
    "Channel",
    "ChannelLike",
    "ChannelPattern",
    "ChannelPatternLike",
    "MAX_NAME_LENGTH",
    "MAX_SEGMENTS",
    "MAX_SEGMENT_LENGTH",
    "TENANT_PREFIX",
    "as_channel",
    "as_pattern",
]

MAX_NAME_LENGTH: Final = 256
MAX_SEGMENTS: Final = 16
MAX_SEGMENT_LENGTH: Final = 64
TENANT_PREFIX: Final = "tenant:"

_WORD = re.compile(r"[A-Za-z0-9_-]+")
_LOWER_WORD = re.compile(r"[a-z][a-z0-9_-]*")
_WORD_CHARS = "A-Z a-z 0-9 _ -"
# Characters a pattern may use: the name alphabet, the separators and the glob syntax.
_PATTERN_CHARS = re.compile(r"[A-Za-z0-9_\-.:{}*?\[\]^\\]*")


def _fail(field: str, value: str, problem: str) -> ConfigurationError:
    return ConfigurationError(field, f"{value!r}: {problem}")


def _check_word(field: str, full: str, label: str, word: str, *, lower: bool = False) -> None:
    if not word:
        raise _fail(field, full, f"{label} is empty")
    if len(word) > MAX_SEGMENT_LENGTH:
        raise _fail(field, full, f"{label} is longer than {MAX_SEGMENT_LENGTH} characters")
    rule = _LOWER_WORD if lower else _WORD
    if rule.fullmatch(word) is None:
        bad = next((ch for ch in word if _WORD.fullmatch(ch) is None), None)
        if lower and bad is None:
            raise _fail(field, full, f"{label} {word!r} must be lower case and start with a letter")
        raise _fail(field, full, f"{label} {word!r} contains {bad!r} (allowed: {_WORD_CHARS})")


def _split_tenant(field: str, name: str) -> tuple[str | None, str]:
    if not name.startswith(TENANT_PREFIX):
        return None, name
    rest = name[len(TENANT_PREFIX) :]
    tenant, sep, body = rest.partition(":")
    if not sep:
        raise _fail(field, name, "tenant prefix must be 'tenant:<id>:' followed by the channel")
    return tenant, body


class Channel:
    """A validated channel name such as ``market.price.AAPL`` or ``tenant:7:notify.user.42``.

    Immutable, hashable, ordered by name, and ``str(channel)`` is the name sent to Redis.
    Two channels are equal when their names are equal; a channel never equals a ``str``.

    Attributes:
        tenant: the tenant id from a ``tenant:<id>:`` prefix, or ``None``.
        domain: the first segment (``market``).
        kind: the second segment (``price``).
        qualifiers: the remaining segments, hash-tag braces included (``("{AAPL}",)``).
    """

    __slots__ = ("_name", "domain", "kind", "qualifiers", "tenant")

    _name: str
    tenant: str | None
    domain: str
    kind: str
    qualifiers: tuple[str, ...]

    def __init__(self, name: str) -> None:
        """Parse and validate ``name``.

        Args:
            name: the full channel name.

        Raises:
            ConfigurationError: (``field="channel"``) the name breaks the grammar; the
                message says which segment and which character.
        """
        field = "channel"
        if not isinstance(name, str):
            raise ConfigurationError(field, f"expected str, got {type(name).__name__}")
        if len(name) > MAX_NAME_LENGTH:
            raise _fail(field, name[:40] + "…", f"longer than {MAX_NAME_LENGTH} characters")
        tenant, body = _split_tenant(field, name)
        if tenant is not None:
            _check_word(field, name, "tenant id", tenant)
        segments = body.split(".")
        if len(segments) < 2:
            raise _fail(field, name, "needs at least '<domain>.<kind>'")
        if len(segments) > MAX_SEGMENTS:
            raise _fail(field, name, f"has more than {MAX_SEGMENTS} segments")
        _check_word(field, name, "domain", segments[0], lower=True)
        _check_word(field, name, "kind", segments[1], lower=True)
        tags = 0
        for index, segment in enumerate(segments[2:], start=3):
            word = segment
            if len(segment) >= 2 and segment[0] == "{" and segment[-1] == "}":
                word = segment[1:-1]
                tags += 1
            _check_word(field, name, f"segment {index}", word)
        if tags > 1:
            raise _fail(field, name, "has more than one hash tag '{…}'")
        object.__setattr__(self, "_name", name)
        object.__setattr__(self, "tenant", tenant)
        object.__setattr__(self, "domain", segments[0])
        object.__setattr__(self, "kind", segments[1])
        object.__setattr__(self, "qualifiers", tuple(segments[2:]))

    @classmethod
    def of(cls, domain: str, kind: str, *qualifiers: str, tenant: str | None = None) -> Channel:
        """Build a channel from its parts.

        Args:
            domain: first segment, e.g. ``"market"``.
            kind: second segment, e.g. ``"price"``.
            *qualifiers: further segments, e.g. ``"XNAS", "AAPL"``.
            tenant: optional tenant id, giving a ``tenant:<id>:`` prefix.

        Raises:
            ConfigurationError: a part is not valid in the grammar.
        """
        body = ".".join((domain, kind, *(str(q) for q in qualifiers)))
        return cls(f"{TENANT_PREFIX}{tenant}:{body}" if tenant is not None else body)

    # -- derived values -----------------------------------------------------------------

    @property
    def name(self) -> str:
        """The full name, as sent to Redis."""
        return self._name

    @property
    def hash_tag(self) -> str | None:
        """The hash-tagged qualifier without braces (``"AAPL"``), or ``None``."""
        for q in self.qualifiers:
            if q.startswith("{"):
                return q[1:-1]
        return None

    @property
    def family(self) -> str:
        """``"<domain>.<kind>"``, e.g. ``"market.price"``: the routing family."""
        return f"{self.domain}.{self.kind}"

    def keyslot(self) -> int:
        """The Redis Cluster slot of this channel (for ``SPUBLISH``/``SSUBSCRIBE``)."""
        return keyslot(self._name)

    def encode(self) -> bytes:
        """The name as UTF-8 bytes (ASCII in fact: the grammar allows nothing else)."""
        return self._name.encode("ascii")

    # -- derived channels -----------------------------------------------------------------

    def child(self, *qualifiers: str) -> Channel:
        """Return this channel with more qualifiers appended.

        Raises:
            ConfigurationError: a qualifier is invalid or a limit is exceeded.
        """
        return Channel.of(self.domain, self.kind, *self.qualifiers, *qualifiers, tenant=self.tenant)

    def in_tenant(self, tenant: str | None) -> Channel:
        """Return the same channel inside ``tenant``'s namespace (``None`` removes it).

        Raises:
            ConfigurationError: the tenant id is invalid.
        """
        return Channel.of(self.domain, self.kind, *self.qualifiers, tenant=tenant)

    def sharded(self, index: int = -1) -> Channel:
        """Return the channel with qualifier ``index`` turned into the hash tag.

        ``market.depth.XNAS.AAPL`` → ``market.depth.XNAS.{AAPL}``: every channel tagged
        ``{AAPL}`` lands in the same cluster slot. An existing tag is moved.

        Raises:
            ConfigurationError: the channel has no qualifier to tag.
        """
        plain = [q[1:-1] if q.startswith("{") else q for q in self.qualifiers]
        if not plain:
            raise _fail("channel", self._name, "has no qualifier to use as a hash tag")
        try:
            plain[index] = "{" + plain[index] + "}"
        except IndexError:
            raise _fail("channel", self._name, f"has no qualifier at index {index}") from None
        return Channel.of(self.domain, self.kind, *plain, tenant=self.tenant)

    # -- value semantics ------------------------------------------------------------------

    def __setattr__(self, key: str, value: object) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable")

    def __delattr__(self, key: str) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable")

    def __str__(self) -> str:
        return self._name

    def __repr__(self) -> str:
        return f"Channel({self._name!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Channel) and other._name == self._name

    def __lt__(self, other: Channel) -> bool:
        if not isinstance(other, Channel):
            return NotImplemented
        return self._name < other._name

    def __hash__(self) -> int:
        return hash(("Channel", self._name))

    def __reduce__(self) -> tuple[type[Channel], tuple[str]]:
        return (Channel, (self._name,))


class ChannelPattern:
    """A validated Redis glob pattern over channel names, e.g. ``market.price.*``.

    Matching (:meth:`matches`) agrees exactly with the server's ``PSUBSCRIBE``. Note that
    ``*`` crosses ``.``: ``market.*`` matches ``market.depth.XNAS.AAPL``.

    Attributes:
        tenant: the tenant pinned by a literal ``tenant:<id>:`` prefix, else ``None``. A
            pattern without it (``*.alert``) may match channels of *every* tenant.
    """

    __slots__ = ("_pattern", "tenant")

    _pattern: str
    tenant: str | None

    def __init__(self, pattern: str) -> None:
        r"""Validate ``pattern``.

        Args:
            pattern: the glob, using ``*``, ``?``, ``[…]``, ``[^…]`` and ``\\`` escapes.

        Raises:
            ConfigurationError: (``field="pattern"``) empty, too long, a character outside
                the channel alphabet and glob syntax, or a malformed tenant prefix.
        """
        field = "pattern"
        if not isinstance(pattern, str):
            raise ConfigurationError(field, f"expected str, got {type(pattern).__name__}")
        if not pattern:
            raise ConfigurationError(field, "pattern is empty")
        if len(pattern) > MAX_NAME_LENGTH:
            raise _fail(field, pattern[:40] + "…", f"longer than {MAX_NAME_LENGTH} characters")
        if _PATTERN_CHARS.fullmatch(pattern) is None:
            bad = next(ch for ch in pattern if _PATTERN_CHARS.fullmatch(ch) is None)
            raise _fail(field, pattern, f"contains {bad!r} (not a channel or glob character)")
        tenant: str | None = None
        if pattern.startswith(TENANT_PREFIX):
            candidate, sep, _ = pattern[len(TENANT_PREFIX) :].partition(":")
            if sep and _WORD.fullmatch(candidate):
                tenant = candidate
        object.__setattr__(self, "_pattern", pattern)
        object.__setattr__(self, "tenant", tenant)

    @classmethod
    def literal(cls, channel: ChannelLike) -> ChannelPattern:
        """A pattern that matches exactly one channel.

        Raises:
            ConfigurationError: ``channel`` is not a valid channel name.
        """
        # Valid channel names contain no glob metacharacters, so no escaping is needed.
        return cls(str(as_channel(channel)))

    @classmethod
    def family(
        cls, domain: str, kind: str | None = None, *, tenant: str | None = None
    ) -> ChannelPattern:
        """Every channel of a family: ``market.price.*`` (or ``market.*`` without ``kind``).

        Raises:
            ConfigurationError: ``domain``, ``kind`` or ``tenant`` is invalid.
        """
        _check_word("pattern", domain, "domain", domain, lower=True)
        body = f"{domain}.*"
        if kind is not None:
            _check_word("pattern", kind, "kind", kind, lower=True)
            body = f"{domain}.{kind}.*"
        if tenant is not None:
            _check_word("pattern", tenant, "tenant id", tenant)
            body = f"{TENANT_PREFIX}{tenant}:{body}"
        return cls(body)

    @property
    def pattern(self) -> str:
        """The glob text, as sent to Redis."""
        return self._pattern

    def matches(self, channel: ChannelLike | bytes) -> bool:
        """Tell whether Redis would deliver a message on ``channel`` to this pattern.

        Args:
            channel: a :class:`Channel`, or any name (not validated: foreign names are fine).
        """
        return glob_match(self._pattern, channel if isinstance(channel, bytes) else str(channel))

    def in_tenant(self, tenant: str) -> ChannelPattern:
        """Return this pattern confined to ``tenant``'s namespace.

        Raises:
            ConfigurationError: the pattern already has a tenant prefix, or ``tenant`` is
                invalid.
        """
        if self._pattern.startswith(TENANT_PREFIX):
            raise _fail("pattern", self._pattern, "already has a tenant prefix")
        _check_word("pattern", tenant, "tenant id", tenant)
        return ChannelPattern(f"{TENANT_PREFIX}{tenant}:{self._pattern}")

    def __setattr__(self, key: str, value: object) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable")

    def __delattr__(self, key: str) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable")

    def __str__(self) -> str:
        return self._pattern

    def __repr__(self) -> str:
        return f"ChannelPattern({self._pattern!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ChannelPattern) and other._pattern == self._pattern

    def __hash__(self) -> int:
        return hash(("ChannelPattern", self._pattern))

    def __reduce__(self) -> tuple[type[ChannelPattern], tuple[str]]:
        return (ChannelPattern, (self._pattern,))


ChannelLike: TypeAlias = str | Channel
"""Anything accepted where a channel is expected: a name or a :class:`Channel`."""

ChannelPatternLike: TypeAlias = str | ChannelPattern
"""Anything accepted where a pattern is expected: a glob or a :class:`ChannelPattern`."""


def as_channel(value: ChannelLike) -> Channel:
    """Return ``value`` as a validated :class:`Channel`.

    Raises:
        ConfigurationError: ``value`` is not a valid channel name.
    """
    return value if isinstance(value, Channel) else Channel(value)


def as_pattern(value: ChannelPatternLike) -> ChannelPattern:
    """Return ``value`` as a validated :class:`ChannelPattern`.

    Raises:
        ConfigurationError: ``value`` is not a valid pattern.
    """
    return value if isinstance(value, ChannelPattern) else ChannelPattern(value)
