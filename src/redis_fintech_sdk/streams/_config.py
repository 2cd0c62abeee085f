"""Frozen, validated configuration objects of the Streams layer (sans-I/O)."""

from __future__ import annotations

import enum
import os
import socket
from dataclasses import dataclass
from typing import Literal

from redis_fintech_sdk.errors import ConfigurationError
from redis_fintech_sdk.resilience import CircuitBreaker

__all__ = [
    "AckPolicy",
    "ConsumerConfig",
    "Durability",
    "Retention",
    "TrimPolicy",
    "default_consumer_name",
]

FRAME_FIELD = b"f"
"""The one field of a stream entry that holds the frame (see ARCHITECTURE.md)."""


class AckPolicy(str, enum.Enum):
    """When a consumer acknowledges an entry (the vocabulary of FastStream's ``AckPolicy``).

    Attributes:
        ACK_FIRST: ack on receipt, before the handler runs: at-most-once.
        ACK: ack after the handler, whether it raised or not (errors are counted).
        REJECT_ON_ERROR: ack after success; on error dead-letter the entry at once.
        NACK_ON_ERROR: ack after success; on error leave it pending so it is delivered
            again after ``retry_delay``, and dead-letter it after ``max_attempts``. The
            default: at-least-once.
        MANUAL: the handler calls ``message.ack()`` / ``message.nack()`` itself; an entry
            it does neither with stays pending (and is redelivered after the visibility
            timeout).
    """

    ACK_FIRST = "ack_first"
    ACK = "ack"
    REJECT_ON_ERROR = "reject_on_error"
    NACK_ON_ERROR = "nack_on_error"
    MANUAL = "manual"


class TrimPolicy(str, enum.Enum):
    """What a trim does about entries some consumer group has not acknowledged yet.

    Attributes:
        REFUSE: trim only up to the oldest entry still needed by a group (default).
        WARN: trim as asked, but log and count the unacknowledged entries it drops.
        FORCE: trim as asked, silently (Redis' own ``KEEPREF`` behaviour).
    """

    REFUSE = "refuse"
    WARN = "warn"
    FORCE = "force"


def _positive(name: str, value: float, *, allow_zero: bool = False) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigurationError(name, "must be a number")
    if value < 0 or (value == 0 and not allow_zero):
        raise ConfigurationError(name, f"must be {'>=' if allow_zero else '>'} 0, got {value}")


@dataclass(frozen=True, kw_only=True, slots=True)
class Retention:
    """How much of a stream the producer keeps.

    Attributes:
        max_length: keep about this many entries (``MAXLEN ~``).
        max_age: keep entries younger than this many seconds (``MINID``).
        exact: trim exactly (``=``) instead of approximately (``~``, much cheaper).
        policy: what to do about entries not yet acknowledged by every group. With
            ``REFUSE`` the producer uses ``ACKED`` trimming where the server has it (Redis
            8.2+) and otherwise trims periodically, never past the oldest pending entry.
        trim_every: on servers without ``ACKED``, run the safe trim after this many appends.
    """

    max_length: int | None = None
    max_age: float | None = None
    exact: bool = False
    policy: TrimPolicy = TrimPolicy.REFUSE
    trim_every: int = 1000

    def __post_init__(self) -> None:
        if self.max_length is None and self.max_age is None:
            raise ConfigurationError("retention", "give max_length, max_age or both")
        if self.max_length is not None:
            _positive("retention.max_length", self.max_length, allow_zero=True)
        if self.max_age is not None:
            _positive("retention.max_age", self.max_age)
        _positive("retention.trim_every", self.trim_every)


ALL_REPLICAS = "all"
"""``Durability(replicas="all")``: wait for every healthy replica (see :class:`Durability`)."""


@dataclass(frozen=True, kw_only=True, slots=True)
class Durability:
    """What an append waits for before it is reported as done.

    Attributes:
        replicas: ``WAIT`` for this many replicas to acknowledge the write, or ``"all"``:
            for every replica the deployment has now (Kafka's ``acks=all``). With
            Sentinel that is the larger of the healthy replicas any Sentinel lists for the
            primary (``SENTINEL REPLICAS``, without ``s_down``/``o_down``/``disconnected``)
            and the primary's own connected replicas (``INFO replication``); without
            Sentinel only the latter. The count is re-read at most every second and after
            every shortfall. Only ``"all"`` with Sentinel keeps WAIT-confirmed appends
            through a ``SENTINEL FAILOVER``: the promoted replica has left the old primary,
            so the old primary cannot gather every replica's acknowledgement and confirms
            nothing. A fixed ``replicas=n`` can be satisfied by a replica that is about to
            resync from the new primary and drop the write. See docs/streams.md.
        min_replicas: with ``"all"`` only: wait for at least this many even when fewer are
            known (default 1), so a deployment whose replicas are all down fails the wait
            rather than confirming with none.
        local_fsync: ``WAITAOF 1 0``: wait for the primary to fsync its AOF (Redis 7.2+;
            skipped and counted on older servers).
        timeout: seconds to wait; a shortfall raises :class:`DurabilityError`.

    Raises:
        ConfigurationError: an invalid value; ``field`` names it (``durability.replicas``,
            ``durability.min_replicas``, ``durability.timeout``).
    """

    replicas: int | Literal["all"] = 0
    min_replicas: int | None = None
    local_fsync: bool = False
    timeout: float = 1.0

    def __post_init__(self) -> None:
        if self.replicas != ALL_REPLICAS and (
            isinstance(self.replicas, bool) or not isinstance(self.replicas, int)
        ):
            raise ConfigurationError(
                "durability.replicas",
                f'must be an integer >= 0 or "all", got {self.replicas!r}',
            )
        if isinstance(self.replicas, int) and self.replicas < 0:
            raise ConfigurationError(
                "durability.replicas", f'must be an integer >= 0 or "all", got {self.replicas}'
            )
        if self.min_replicas is not None:
            if self.replicas != ALL_REPLICAS:
                raise ConfigurationError(
                    "durability.min_replicas", 'only applies to replicas="all"'
                )
            if (
                isinstance(self.min_replicas, bool)
                or not isinstance(self.min_replicas, int)
                or self.min_replicas < 0
            ):
                raise ConfigurationError(
                    "durability.min_replicas",
                    f"must be an integer >= 0, got {self.min_replicas!r}",
                )
        _positive("durability.timeout", self.timeout)

    @property
    def all_replicas(self) -> bool:
        """Whether the count is every healthy replica (``replicas="all"``)."""
        return self.replicas == ALL_REPLICAS

    @property
    def floor(self) -> int:
        """The fewest replicas waited for: ``min_replicas`` (default 1) or ``replicas``."""
        if isinstance(self.replicas, int):
            return self.replicas
        return 1 if self.min_replicas is None else self.min_replicas


def default_consumer_name() -> str:
    """A consumer name that survives restarts where the platform gives one.

    ``$RFSDK_CONSUMER_NAME`` when set (use the pod name or an ordinal), else
    ``<hostname>-<pid>``, which is unique but changes on restart: clean those up with
    ``StreamAdmin.remove_dead_consumers``.
    """
    explicit = os.environ.get("RFSDK_CONSUMER_NAME")
    if explicit:
        return explicit
    return f"{socket.gethostname()}-{os.getpid()}"


@dataclass(frozen=True, kw_only=True, slots=True)
class ConsumerConfig:
    """How a :class:`StreamConsumer` reads, acknowledges, retries and dead-letters.

    Attributes:
        group: the consumer group.
        consumer: this consumer's name; keep it stable across restarts.
        start_id: where a newly created group starts (``"0"``: everything in the stream,
            ``"$"``: only new entries). Also used when a group is re-created after NOGROUP.
        batch_size: entries per ``XREADGROUP``.
        block: seconds one ``XREADGROUP`` blocks (also the worst-case stop latency).
        max_in_flight: entries being handled at once.
        ack_policy: see :class:`AckPolicy`.
        max_attempts: deliveries before an entry goes to the dead-letter stream.
        visibility_timeout: seconds an entry may stay unacknowledged before another
            consumer claims it (``XAUTOCLAIM`` min-idle time).
        claim_interval: seconds between reclaim scans.
        retry_delay: seconds before a nacked entry is delivered again (at most the
            visibility timeout; the next reclaim scan picks it up).
        ack_batch_size: acknowledgements sent in one ``XACK``.
        ack_interval: longest seconds an acknowledgement waits to be batched.
        dead_letters: the dead-letter stream (default ``{stream}:dlq``).
        reconnect_base: first backoff delay after a connection error or NOGROUP.
        reconnect_cap: largest backoff delay.
        error_text_limit: characters of an exception message kept in a dead letter.
        handler_timeout: seconds one handler call may run; past it the call is cancelled
            and counts as a failed attempt (``TimeoutError``). ``None``: no limit.
        renew_leases: while a handler runs, reset its entry's idle time every third of
            ``visibility_timeout`` (one ``XCLAIM ... JUSTID`` for all entries in flight),
            so no other consumer reclaims an entry that is still being handled.
        max_lease: longest seconds one entry's lease is renewed (like Google Pub/Sub's
            maximum lease extension): past it, a handler that hangs without
            ``handler_timeout`` gives its entry up to the normal reclaim.
        breaker: a :class:`~redis_fintech_sdk.resilience.CircuitBreaker` fed with the
            handler's outcomes. While it is open the consumer reads and reclaims nothing,
            and failures the breaker counts do not use up attempts (see docs/streams.md).
        lag_interval: seconds between ``consumer_lag`` / ``consumer_pending`` reports
            (``XINFO GROUPS``); only with ``metrics=``. ``None``: never.

    Raises:
        ConfigurationError: an invalid value; ``field`` names it.
    """

    group: str
    consumer: str = ""
    start_id: str = "0"
    batch_size: int = 100
    block: float = 2.0
    max_in_flight: int = 64
    ack_policy: AckPolicy = AckPolicy.NACK_ON_ERROR
    max_attempts: int = 5
    visibility_timeout: float = 30.0
    claim_interval: float | None = None
    retry_delay: float = 0.5
    ack_batch_size: int = 200
    ack_interval: float = 0.02
    dead_letters: str | None = None
    reconnect_base: float = 0.05
    reconnect_cap: float = 5.0
    error_text_limit: int = 500
    handler_timeout: float | None = None
    renew_leases: bool = True
    max_lease: float = 3600.0
    breaker: CircuitBreaker | None = None
    lag_interval: float | None = 15.0

    def __post_init__(self) -> None:
        if not self.group:
            raise ConfigurationError("group", "must be a non-empty string")
        if not self.consumer:
            object.__setattr__(self, "consumer", default_consumer_name())
        for name in ("batch_size", "max_in_flight", "max_attempts", "ack_batch_size"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigurationError(name, f"must be an integer >= 1, got {value!r}")
        for name in ("block", "retry_delay", "ack_interval"):
            _positive(name, getattr(self, name), allow_zero=True)
        for name in ("visibility_timeout", "reconnect_base", "reconnect_cap"):
            _positive(name, getattr(self, name))
        for name in ("claim_interval", "handler_timeout", "lag_interval"):
            if getattr(self, name) is not None:
                _positive(name, getattr(self, name))
        _positive("max_lease", self.max_lease)
        if not isinstance(self.renew_leases, bool):
            raise ConfigurationError("renew_leases", "must be True or False")
        if self.breaker is not None and not isinstance(self.breaker, CircuitBreaker):
            raise ConfigurationError("breaker", "must be a CircuitBreaker or None")

    @property
    def effective_claim_interval(self) -> float:
        """Seconds between reclaim scans: given, or a third of the visibility timeout."""
        if self.claim_interval is not None:
            return self.claim_interval
        return min(max(self.visibility_timeout / 3, 0.05), 5.0)

    @property
    def lease_interval(self) -> float:
        """Seconds between lease renewals: a third of the visibility timeout."""
        return self.visibility_timeout / 3
