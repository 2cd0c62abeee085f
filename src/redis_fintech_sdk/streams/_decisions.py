"""Pure decisions of the Streams layer: ids, attempts, outcomes, trimming, ack batching."""

from __future__ import annotations

import enum
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from redis_fintech_sdk.resilience import CircuitState
from redis_fintech_sdk.streams._config import AckPolicy, TrimPolicy

__all__ = [
    "AckBuffer",
    "GroupPosition",
    "Outcome",
    "TrimPlan",
    "decide_delivery",
    "decide_outcome",
    "defer_for_outage",
    "entry_id_lt",
    "min_entry_id",
    "parse_entry_id",
    "plan_trim",
]


def parse_entry_id(entry_id: str | bytes) -> tuple[int, int]:
    """Split ``"<ms>-<seq>"`` into integers (``"<ms>"`` alone means seq 0).

    Raises:
        ValueError: not a stream entry id.
    """
    text = entry_id.decode() if isinstance(entry_id, bytes) else entry_id
    ms, _, seq = text.partition("-")
    return int(ms), int(seq or 0)


def entry_id_lt(a: str, b: str) -> bool:
    """Whether entry id ``a`` sorts before ``b``."""
    return parse_entry_id(a) < parse_entry_id(b)


def min_entry_id(ids: Iterable[str]) -> str | None:
    """The smallest of some entry ids (``None`` for none)."""
    best: str | None = None
    for item in ids:
        if best is None or entry_id_lt(item, best):
            best = item
    return best


def _next_id(entry_id: str) -> str:
    ms, seq = parse_entry_id(entry_id)
    return f"{ms}-{seq + 1}"


class Outcome(str, enum.Enum):
    """What to do with an entry after (or instead of) running the handler."""

    ACK = "ack"
    NACK = "nack"
    DEAD_LETTER = "dead_letter"
    LEAVE = "leave"


def decide_delivery(attempt: int, max_attempts: int) -> Outcome | None:
    """Before the handler: ``DEAD_LETTER`` when this delivery is past the limit, else None.

    Args:
        attempt: the delivery count of this entry (1 for a first delivery).
        max_attempts: deliveries allowed.
    """
    return Outcome.DEAD_LETTER if attempt > max_attempts else None


def decide_outcome(policy: AckPolicy, *, failed: bool, attempt: int, max_attempts: int) -> Outcome:
    """After the handler ran: ack, nack, dead-letter, or leave it to the handler.

    Args:
        policy: the consumer's ack policy.
        failed: whether the handler raised.
        attempt: the delivery count of this entry.
        max_attempts: deliveries allowed.
    """
    if policy is AckPolicy.ACK_FIRST:
        return Outcome.LEAVE  # already acknowledged on receipt
    if policy is AckPolicy.MANUAL:
        return Outcome.LEAVE
    if not failed or policy is AckPolicy.ACK:
        return Outcome.ACK
    if policy is AckPolicy.REJECT_ON_ERROR or attempt >= max_attempts:
        return Outcome.DEAD_LETTER
    return Outcome.NACK


_REFUSING = frozenset({CircuitState.OPEN, CircuitState.HALF_OPEN, CircuitState.FORCED_OPEN})


def defer_for_outage(policy: AckPolicy, *, counted: bool, state: CircuitState) -> bool:
    """Whether a failed entry is given back without using up an attempt.

    Yes when the consumer's breaker counted the failure and, having recorded it, no longer
    lets calls through freely (it tripped, a half-open probe failed, or it was already
    open): the failure is then blamed on the downstream outage, not on the entry, so it
    must not push the entry towards the dead-letter stream. Only the ``*_ON_ERROR``
    policies retry or dead-letter on failure, so only they defer.

    Args:
        policy: the consumer's ack policy.
        counted: whether the breaker counts the handler's exception as a failure.
        state: the breaker's state after the failure was recorded.
    """
    if policy not in (AckPolicy.NACK_ON_ERROR, AckPolicy.REJECT_ON_ERROR):
        return False
    return counted and state in _REFUSING


@dataclass(frozen=True, slots=True)
class GroupPosition:
    """How far one consumer group has got, as the trim planner needs it.

    Attributes:
        name: the group.
        last_delivered_id: the group's ``last-delivered-id``.
        oldest_pending_id: the smallest id in its pending entries list, if any.
    """

    name: str
    last_delivered_id: str
    oldest_pending_id: str | None


@dataclass(frozen=True, slots=True)
class TrimPlan:
    """The outcome of :func:`plan_trim`.

    Attributes:
        minid: trim entries below this id (``None``: trim nothing).
        requested_minid: what the caller's retention asked for.
        clamped: the request was reduced to protect unacknowledged entries.
        blocking_group: the group whose entries limited the trim, if any.
    """

    minid: str | None
    requested_minid: str | None
    clamped: bool
    blocking_group: str | None


def plan_trim(
    requested_minid: str | None, groups: Sequence[GroupPosition], policy: TrimPolicy
) -> TrimPlan:
    """Decide how far a trim may go without dropping entries a group still needs.

    A group still needs every entry it has not acknowledged: its pending entries, and every
    entry after its last-delivered id. The safe bound is therefore the smallest, over all
    groups, of its oldest pending id and the id right after its last-delivered id.

    Args:
        requested_minid: the retention's wish (entries below it may go).
        groups: every consumer group of the stream.
        policy: ``REFUSE`` clamps to the safe bound; ``WARN``/``FORCE`` do not (the caller
            warns for ``WARN`` when :attr:`TrimPlan.clamped` would have been true).
    """
    if requested_minid is None:
        return TrimPlan(None, None, False, None)
    safe: str | None = None
    blocker: str | None = None
    for group in groups:
        needed = _next_id(group.last_delivered_id)
        if group.oldest_pending_id is not None and entry_id_lt(group.oldest_pending_id, needed):
            needed = group.oldest_pending_id
        if safe is None or entry_id_lt(needed, safe):
            safe, blocker = needed, group.name
    would_clamp = safe is not None and entry_id_lt(safe, requested_minid)
    if not would_clamp:
        return TrimPlan(requested_minid, requested_minid, False, None)
    if policy is TrimPolicy.REFUSE:
        return TrimPlan(safe, requested_minid, True, blocker)
    return TrimPlan(requested_minid, requested_minid, True, blocker)


class AckBuffer:
    """Entry ids waiting to be acknowledged in batches.

    Not thread-safe; one consumer's event loop owns it.
    """

    def __init__(self, batch_size: int) -> None:
        self.batch_size = batch_size
        self._ids: list[str] = []

    def add(self, entry_id: str) -> bool:
        """Queue an id; return whether a full batch is ready."""
        self._ids.append(entry_id)
        return len(self._ids) >= self.batch_size

    def take(self) -> list[str]:
        """Remove and return up to one batch of ids (oldest first)."""
        batch, self._ids = self._ids[: self.batch_size], self._ids[self.batch_size :]
        return batch

    def put_back(self, ids: Sequence[str]) -> None:
        """Return a batch that could not be sent, ahead of newer ids."""
        self._ids[:0] = ids

    def clear(self) -> int:
        """Drop every queued id (the group is gone); return how many were dropped."""
        count, self._ids = len(self._ids), []
        return count

    def __len__(self) -> int:
        return len(self._ids)
