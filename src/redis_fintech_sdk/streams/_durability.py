"""How many replicas ``Durability(replicas="all")`` waits for (sans-I/O).

The producer gathers two views and this module turns them into one ``WAIT`` count:

* each Sentinel's ``SENTINEL REPLICAS <service>`` (one map of fields per replica), when the
  deployment is Sentinel-managed;
* ``connected_slaves`` from ``INFO replication`` of the node the producer writes to.

The count is the largest of: any one Sentinel's healthy replicas (flags without
``s_down``, ``o_down`` or ``disconnected``), the node's connected replicas, and
``min_replicas``. Taking the largest is the safe direction: waiting for one replica too
many costs a :class:`DurabilityError` and a retry, one too few can confirm a write that a
failover then drops (docs/streams.md, "Durability").
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = [
    "DOWN_FLAGS",
    "ReplicaCountCache",
    "connected_replicas",
    "demoted_while_waiting",
    "healthy_replicas",
    "replicas_to_wait_for",
]

DOWN_FLAGS = frozenset({"s_down", "o_down", "disconnected"})
"""Sentinel flags that take a replica out of the count: it cannot acknowledge a write."""


def _text(value: Any) -> str:
    return value.decode(errors="replace") if isinstance(value, bytes) else str(value)


def healthy_replicas(entries: Iterable[Mapping[Any, Any]]) -> frozenset[tuple[str, int]]:
    """The ``(ip, port)`` of each replica one Sentinel does not flag as down.

    Args:
        entries: one Sentinel's ``SENTINEL REPLICAS`` reply, one field map per replica
            (``bytes`` or ``str`` keys and values; ``flags`` comma-separated).
    """
    found: set[tuple[str, int]] = set()
    for entry in entries:
        fields = {_text(k): _text(v) for k, v in entry.items()}
        flags = {f.strip() for f in fields.get("flags", "").split(",") if f.strip()}
        if flags & DOWN_FLAGS:
            continue
        try:
            found.add((fields["ip"], int(fields["port"])))
        except (KeyError, ValueError):
            continue  # not a replica entry we can name; it cannot be counted either way
    return frozenset(found)


def connected_replicas(info: Mapping[str, Any]) -> int:
    """``connected_slaves`` of an ``INFO replication`` reply (0 on a replica or when absent)."""
    if _text(info.get("role", "master")) != "master":
        return 0
    try:
        return max(0, int(info.get("connected_slaves", 0)))
    except (TypeError, ValueError):
        return 0


def replicas_to_wait_for(
    sentinel_views: Sequence[Iterable[Mapping[Any, Any]]],
    primary_connected: int | None,
    minimum: int,
) -> int:
    """The ``WAIT`` count for ``replicas="all"``.

    Args:
        sentinel_views: each answering Sentinel's ``SENTINEL REPLICAS`` reply (empty
            without Sentinel).
        primary_connected: connected replicas of the node written to, if known.
        minimum: ``Durability.min_replicas``.
    """
    counts = [len(healthy_replicas(view)) for view in sentinel_views]
    if primary_connected is not None:
        counts.append(primary_connected)
    return max([minimum, *counts])


def demoted_while_waiting(error: BaseException) -> bool:
    """Whether a ``WAIT``/``WAITAOF`` error reply means the node is no longer the primary.

    ``UNBLOCKED ... instance state changed (master -> replica?)`` when it was demoted while
    the client waited; ``WAIT cannot be used with replica instances`` when the demotion
    came between the append and the ``WAIT`` of one pipeline.
    """
    text = str(error)
    return text.startswith("UNBLOCKED") or "cannot be used with replica" in text


@dataclass
class ReplicaCountCache:
    """The last ``WAIT`` count, kept for ``ttl`` seconds or until :meth:`invalidate`.

    Attributes:
        ttl: seconds a count is reused.
        clock: monotonic seconds (injectable for tests).
    """

    ttl: float = 1.0
    clock: Callable[[], float] = time.monotonic
    _value: int | None = None
    _at: float = 0.0

    def get(self) -> int | None:
        """The cached count, or ``None`` when there is none or it is older than ``ttl``."""
        if self._value is None or self.clock() - self._at >= self.ttl:
            return None
        return self._value

    def put(self, value: int) -> None:
        """Remember ``value`` from now."""
        self._value = value
        self._at = self.clock()

    def invalidate(self) -> None:
        """Forget the count: the next append asks again (after a shortfall or failover)."""
        self._value = None
