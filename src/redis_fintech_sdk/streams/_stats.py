"""Frozen counters returned by ``statistics()`` of the Streams components."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["ConsumerStatistics", "ProducerStatistics"]


@dataclass(frozen=True, slots=True)
class ProducerStatistics:
    """Counters of a stream producer.

    Attributes:
        appended: appends confirmed (duplicates included).
        duplicates_suppressed: retried appends the server recognised as already added.
        retries: retried round trips.
        failures: appends that failed after the retries.
        trims: safe periodic trims run (servers without ``ACKED``).
        trimmed_entries: entries those trims removed.
        durability_skipped: ``WAITAOF`` waits skipped because the server lacks it.
        last_append_at: wall-clock time of the last confirmed append (0: none yet).
    """

    appended: int
    duplicates_suppressed: int
    retries: int
    failures: int
    trims: int
    trimmed_entries: int
    durability_skipped: int
    last_append_at: float


@dataclass(frozen=True, slots=True)
class ConsumerStatistics:
    """Counters of a stream consumer.

    Attributes:
        delivered: entries handed to this consumer (read or claimed).
        claimed: entries claimed from idle consumers (``XAUTOCLAIM``).
        handled: handler calls that returned normally.
        failed: handler calls that raised.
        acked: entries acknowledged.
        nacked: entries left pending for another attempt.
        dead_lettered: entries moved to the dead-letter stream.
        undecodable: frames that could not be decoded (dead-lettered).
        duplicates_skipped: entries skipped because the idempotency store had them.
        deleted_while_pending: pending entries found trimmed or deleted (lost to a trim).
        group_recreated: times the group was re-created after ``NOGROUP``.
        reconnects: connection errors recovered from.
        acks_dropped: acknowledgements dropped because their group was gone.
        in_flight: entries being handled right now.
        handler_timeouts: handler calls cancelled after ``handler_timeout`` (also in
            ``failed``).
        leases_renewed: entry leases renewed while their handlers ran.
        deferred: entries given back without using up an attempt because the breaker
            was open (refused before the handler, or a failure it counted as an outage).
        pauses: times reading stopped because the breaker was open.
    """

    delivered: int
    claimed: int
    handled: int
    failed: int
    acked: int
    nacked: int
    dead_lettered: int
    undecodable: int
    duplicates_skipped: int
    deleted_while_pending: int
    group_recreated: int
    reconnects: int
    acks_dropped: int
    in_flight: int
    handler_timeouts: int
    leases_renewed: int
    deferred: int
    pauses: int
