"""Typed views of ``XINFO`` replies and server capabilities (sans-I/O parsers)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = [
    "ConsumerInfo",
    "GroupHealth",
    "GroupInfo",
    "ServerFeatures",
    "StreamInfo",
]


def _s(value: Any) -> str:
    return value.decode(errors="replace") if isinstance(value, bytes) else str(value)


def _opt_s(value: Any) -> str | None:
    return None if value is None else _s(value)


def _opt_i(value: Any) -> int | None:
    return None if value is None else int(value)


def _entry_id(entry: Any) -> str | None:
    if not entry:
        return None
    return _s(entry[0])


@dataclass(frozen=True, slots=True)
class ServerFeatures:
    """What the connected server can do, probed at run time.

    Attributes:
        xadd_idmp: ``XADD ... IDMP`` server-side idempotent appends (Redis 8.6+).
        waitaof: ``WAITAOF`` (Redis 7.2+).
        xackdel: ``XACKDEL`` (Redis 8.2+).
        trim_acked: the ``ACKED`` trim option of ``XADD``/``XTRIM`` (Redis 8.2+).
    """

    xadd_idmp: bool = False
    waitaof: bool = False
    xackdel: bool = False
    trim_acked: bool = False


@dataclass(frozen=True, slots=True)
class StreamInfo:
    """``XINFO STREAM``.

    Attributes:
        length: entries in the stream.
        groups: consumer groups.
        last_generated_id: id of the newest entry ever added.
        first_entry_id: id of the oldest entry present.
        last_entry_id: id of the newest entry present.
        entries_added: entries ever added (7.0+), or None.
        max_deleted_entry_id: newest id ever deleted or trimmed (7.0+), or None.
        radix_tree_keys: radix tree keys (a memory indicator).
    """

    length: int
    groups: int
    last_generated_id: str
    first_entry_id: str | None
    last_entry_id: str | None
    entries_added: int | None
    max_deleted_entry_id: str | None
    radix_tree_keys: int

    @classmethod
    def parse(cls, reply: Mapping[str, Any]) -> StreamInfo:
        """Build from redis-py's parsed ``XINFO STREAM`` reply."""
        return cls(
            length=int(reply.get("length", 0)),
            groups=int(reply.get("groups", 0)),
            last_generated_id=_s(reply.get("last-generated-id", "0-0")),
            first_entry_id=_entry_id(reply.get("first-entry")),
            last_entry_id=_entry_id(reply.get("last-entry")),
            entries_added=_opt_i(reply.get("entries-added")),
            max_deleted_entry_id=_opt_s(reply.get("max-deleted-entry-id")),
            radix_tree_keys=int(reply.get("radix-tree-keys", 0)),
        )


@dataclass(frozen=True, slots=True)
class GroupInfo:
    """One line of ``XINFO GROUPS``.

    Attributes:
        name: the group.
        consumers: consumers in the group.
        pending: entries delivered and not yet acknowledged.
        last_delivered_id: the group's cursor.
        entries_read: entries read by the group (7.0+), or None.
        lag: entries not yet delivered to the group (7.0+; None when Redis cannot tell).
    """

    name: str
    consumers: int
    pending: int
    last_delivered_id: str
    entries_read: int | None
    lag: int | None

    @classmethod
    def parse(cls, reply: Mapping[str, Any]) -> GroupInfo:
        """Build from one item of redis-py's parsed ``XINFO GROUPS`` reply."""
        return cls(
            name=_s(reply["name"]),
            consumers=int(reply.get("consumers", 0)),
            pending=int(reply.get("pending", 0)),
            last_delivered_id=_s(reply.get("last-delivered-id", "0-0")),
            entries_read=_opt_i(reply.get("entries-read")),
            lag=_opt_i(reply.get("lag")),
        )


@dataclass(frozen=True, slots=True)
class ConsumerInfo:
    """One line of ``XINFO CONSUMERS``.

    Attributes:
        name: the consumer.
        pending: entries it holds unacknowledged.
        idle_ms: milliseconds since its last attempted interaction.
        inactive_ms: milliseconds since its last successful read or claim (7.2+), or None.
    """

    name: str
    pending: int
    idle_ms: int
    inactive_ms: int | None

    @classmethod
    def parse(cls, reply: Mapping[str, Any]) -> ConsumerInfo:
        """Build from one item of redis-py's parsed ``XINFO CONSUMERS`` reply."""
        inactive = reply.get("inactive")
        return cls(
            name=_s(reply["name"]),
            pending=int(reply.get("pending", 0)),
            idle_ms=int(reply.get("idle", 0)),
            inactive_ms=None if inactive is None or int(inactive) < 0 else int(inactive),
        )


@dataclass(frozen=True, slots=True)
class GroupHealth:
    """What an operator wants to know about one consumer group.

    Attributes:
        stream: the stream.
        group: the group.
        lag: entries not yet delivered (None when Redis cannot tell).
        pending: delivered, unacknowledged entries.
        oldest_pending_id: the oldest unacknowledged entry, if any.
        oldest_pending_age_ms: its age by id timestamp, if any.
        consumers: consumers in the group.
        idle_consumers: consumers idle longer than the threshold asked for.
        dead_letters: entries in the stream's dead-letter stream.
    """

    stream: str
    group: str
    lag: int | None
    pending: int
    oldest_pending_id: str | None
    oldest_pending_age_ms: int | None
    consumers: int
    idle_consumers: tuple[str, ...]
    dead_letters: int
