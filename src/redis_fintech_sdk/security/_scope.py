"""Channel grants: which actions on which channel patterns (sans-I/O).

A grant matches channels with the server's own glob (``channels.glob_match``), so the SDK and
Redis agree on what ``market.price.*`` covers. For a *pattern* subscription the question is
whether every channel the requested pattern can match is inside a granted pattern; that is
decided conservatively: the same pattern, or a granted ``<literal prefix>*`` whose prefix the
requested pattern's literal prefix starts with (``market.*`` covers ``market.price.*``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from redis_fintech_sdk.channels import ChannelPattern, glob_match, has_glob_meta
from redis_fintech_sdk.errors import ConfigurationError

__all__ = ["ACTIONS", "Action", "ChannelGrant", "pattern_covers"]

Action = Literal["publish", "subscribe", "produce", "consume", "read"]
"""What a principal does with a channel or stream.

``publish``/``subscribe`` for Pub/Sub channels; ``produce`` (XADD), ``consume`` (consumer
group reads + acks) and ``read`` (XRANGE/XREAD history) for streams.
"""

ACTIONS: frozenset[str] = frozenset(("publish", "subscribe", "produce", "consume", "read"))


def _literal_prefix(pattern: str) -> str:
    for i, ch in enumerate(pattern):
        if ch in "*?[\\":
            return pattern[:i]
    return pattern


def pattern_covers(granted: str, requested: str) -> bool:
    """Tell whether every name matched by ``requested`` is matched by ``granted``.

    Sound but not complete: ``True`` only when it is certain.

    Args:
        granted: a granted glob.
        requested: a channel name or a glob a client wants to subscribe to.
    """
    if not has_glob_meta(requested):
        return glob_match(granted, requested)
    if granted == requested:
        return True
    if granted.endswith("*") and not has_glob_meta(granted[:-1]):
        return _literal_prefix(requested).startswith(granted[:-1])
    return False


@dataclass(frozen=True)
class ChannelGrant:
    """Actions allowed on channels / streams matching any of ``patterns``.

    Attributes:
        patterns: Redis globs over channel or stream names.
        actions: the allowed actions.

    Raises:
        ConfigurationError: no pattern, an invalid pattern, or an unknown action.
    """

    patterns: tuple[str, ...]
    actions: frozenset[Action]

    def __post_init__(self) -> None:
        if not isinstance(self.patterns, tuple) or not self.patterns:
            raise ConfigurationError("grant.patterns", "a non-empty tuple of globs is needed")
        for p in self.patterns:
            ChannelPattern(p)  # validates the glob alphabet
        unknown = set(self.actions) - ACTIONS
        if unknown or not self.actions:
            raise ConfigurationError(
                "grant.actions", f"must be a non-empty subset of {sorted(ACTIONS)}"
            )

    @classmethod
    def of(cls, patterns: Iterable[str] | str, actions: Iterable[Action] | Action) -> ChannelGrant:
        """Build from one or several patterns and actions.

        Raises:
            ConfigurationError: as the constructor.
        """
        pats = (patterns,) if isinstance(patterns, str) else tuple(patterns)
        acts: frozenset[Action] = (
            frozenset((actions,)) if isinstance(actions, str) else frozenset(actions)
        )
        return cls(pats, acts)

    def allows(self, action: Action, name: str) -> bool:
        """Tell whether ``action`` on ``name`` (a channel, stream or subscription glob) is in."""
        return action in self.actions and any(pattern_covers(p, name) for p in self.patterns)

    def in_tenant(self, namespace: str) -> ChannelGrant:
        """Return this grant with every pattern prefixed by ``namespace`` (``tenant:<id>:``)."""
        return ChannelGrant(tuple(namespace + p for p in self.patterns), self.actions)

    def to_json(self) -> dict[str, list[str]]:
        """``{"ch": [...], "act": [...]}`` as carried in tokens."""
        return {"ch": list(self.patterns), "act": sorted(self.actions)}
