"""Subscription bookkeeping and handler dispatch tables. Sans-I/O.

:class:`SubscriptionSet` is the source of truth for what a subscriber *wants*; every
(re)connection replays it in full, and slot-aware grouping keeps ``SSUBSCRIBE`` within one
hash slot per command (``CROSSSLOT`` otherwise).
"""

from __future__ import annotations

import enum
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any

from redis_fintech_sdk.channels import glob_match, keyslot

__all__ = ["HandlerRegistry", "SubscriptionKind", "SubscriptionSet"]

Handler = Callable[[Any], Awaitable[None] | None]


class SubscriptionKind(str, enum.Enum):
    """The three kinds of Redis subscription."""

    CHANNEL = "channel"  # SUBSCRIBE
    PATTERN = "pattern"  # PSUBSCRIBE
    SHARD = "shard"  # SSUBSCRIBE

    @property
    def subscribe_command(self) -> str:
        """The Redis command that adds a subscription of this kind."""
        return {"channel": "SUBSCRIBE", "pattern": "PSUBSCRIBE", "shard": "SSUBSCRIBE"}[self.value]

    @property
    def unsubscribe_command(self) -> str:
        """The Redis command that removes a subscription of this kind."""
        return {"channel": "UNSUBSCRIBE", "pattern": "PUNSUBSCRIBE", "shard": "SUNSUBSCRIBE"}[
            self.value
        ]


# Reply kinds as Redis names them, to the subscription kind they confirm.
CONFIRMATIONS = {
    b"subscribe": SubscriptionKind.CHANNEL,
    b"psubscribe": SubscriptionKind.PATTERN,
    b"ssubscribe": SubscriptionKind.SHARD,
}
REMOVALS = {
    b"unsubscribe": SubscriptionKind.CHANNEL,
    b"punsubscribe": SubscriptionKind.PATTERN,
    b"sunsubscribe": SubscriptionKind.SHARD,
}


class SubscriptionSet:
    """What a subscriber is subscribed to, by kind (insertion-ordered, no duplicates)."""

    def __init__(self) -> None:
        self._names: dict[SubscriptionKind, dict[str, None]] = {k: {} for k in SubscriptionKind}

    def add(self, kind: SubscriptionKind, names: Iterable[str]) -> list[str]:
        """Add names; return those that were not there yet (in order)."""
        have = self._names[kind]
        new = [n for n in dict.fromkeys(names) if n not in have]
        for n in new:
            have[n] = None
        return new

    def remove(self, kind: SubscriptionKind, names: Iterable[str]) -> list[str]:
        """Remove names; return those that were there."""
        have = self._names[kind]
        gone = [n for n in dict.fromkeys(names) if n in have]
        for n in gone:
            del have[n]
        return gone

    def names(self, kind: SubscriptionKind) -> tuple[str, ...]:
        """The names of one kind, in subscription order."""
        return tuple(self._names[kind])

    def __contains__(self, item: tuple[SubscriptionKind, str]) -> bool:
        return item[1] in self._names[item[0]]

    def __len__(self) -> int:
        return sum(len(v) for v in self._names.values())

    def commands(self) -> list[tuple[str, tuple[str, ...]]]:
        """``(command, names)`` pairs that recreate every subscription on a fresh connection.

        Shard channels are grouped by hash slot, one ``SSUBSCRIBE`` per slot.
        """
        out: list[tuple[str, tuple[str, ...]]] = []
        for kind in (SubscriptionKind.CHANNEL, SubscriptionKind.PATTERN):
            if self._names[kind]:
                out.append((kind.subscribe_command, tuple(self._names[kind])))
        for group in shard_groups(self._names[SubscriptionKind.SHARD]):
            out.append(("SSUBSCRIBE", group))
        return out

    def expected_confirmations(self) -> set[tuple[SubscriptionKind, str]]:
        """Every (kind, name) a fresh connection must see confirmed."""
        return {(k, n) for k, names in self._names.items() for n in names}


def shard_groups(names: Iterable[str]) -> list[tuple[str, ...]]:
    """Group shard channel names by hash slot (one ``SSUBSCRIBE`` may not cross slots)."""
    by_slot: dict[int, list[str]] = defaultdict(list)
    for n in names:
        by_slot[keyslot(n)].append(n)
    return [tuple(v) for v in by_slot.values()]


@dataclass(frozen=True)
class _Entry:
    channel_glob: str | None
    types: tuple[str, ...]
    handler: Handler


class HandlerRegistry:
    """Handlers selected by channel glob and message-type glob, in registration order."""

    def __init__(self) -> None:
        self._entries: list[_Entry] = []

    def add(
        self, handler: Handler, *, channel: str | None = None, types: Iterable[str] = ()
    ) -> None:
        """Register a handler.

        Args:
            handler: the callable.
            channel: glob over channel names (any channel when ``None``).
            types: globs over message types (any type when empty).
        """
        self._entries.append(_Entry(channel, tuple(types), handler))

    def remove(self, handler: Handler) -> int:
        """Unregister every entry of ``handler``; return how many were removed."""
        before = len(self._entries)
        self._entries = [e for e in self._entries if e.handler is not handler]
        return before - len(self._entries)

    def __bool__(self) -> bool:
        return bool(self._entries)

    def select(self, channel: str, type_name: str | None) -> list[Handler]:
        """The handlers for a message on ``channel`` of type ``type_name``."""
        out: list[Handler] = []
        for e in self._entries:
            if e.channel_glob is not None and not glob_match(e.channel_glob, channel):
                continue
            if e.types and (
                type_name is None or not any(glob_match(t, type_name) for t in e.types)
            ):
                continue
            out.append(e.handler)
        return out
