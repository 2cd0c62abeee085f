"""Consumer resilience without a server: config validation, the outage decision, lag reports."""

from __future__ import annotations

from typing import Any

import pytest

from redis_fintech_sdk.errors import AuthorizationError, ConfigurationError, ConnectionFailedError
from redis_fintech_sdk.hooks import Labels
from redis_fintech_sdk.resilience import CircuitBreaker, CircuitState
from redis_fintech_sdk.streams import AckPolicy, ConsumerConfig, GroupInfo
from redis_fintech_sdk.streams._consumer_hooks import ConsumerHooks
from redis_fintech_sdk.streams._decisions import defer_for_outage
from redis_fintech_sdk.streams._upkeep import Upkeep

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("max_lease", 0),
        ("max_lease", -5.0),
        ("handler_timeout", 0),
        ("handler_timeout", -1.0),
        ("handler_timeout", "5"),
        ("lag_interval", 0),
        ("lag_interval", True),
        ("renew_leases", 1),
        ("renew_leases", None),
        ("breaker", "payments-api"),
    ],
)
def test_invalid_resilience_option_names_its_field(field: str, value: Any) -> None:
    with pytest.raises(ConfigurationError) as info:
        ConsumerConfig(group="g", **{field: value})
    assert info.value.field == field


def test_resilience_defaults_and_lease_interval() -> None:
    cfg = ConsumerConfig(group="g", visibility_timeout=30.0)
    assert (cfg.handler_timeout, cfg.renew_leases, cfg.breaker, cfg.lag_interval) == (
        None,
        True,
        None,
        15.0,
    )
    assert cfg.lease_interval == 10.0
    breaker = CircuitBreaker("downstream")
    tuned = ConsumerConfig(
        group="g", handler_timeout=2.5, lag_interval=None, renew_leases=False, breaker=breaker
    )
    assert (tuned.handler_timeout, tuned.lag_interval, tuned.breaker) == (2.5, None, breaker)


@pytest.mark.parametrize(
    ("policy", "counted", "state", "expected"),
    [
        (AckPolicy.NACK_ON_ERROR, True, CircuitState.OPEN, True),
        (AckPolicy.NACK_ON_ERROR, True, CircuitState.HALF_OPEN, True),
        (AckPolicy.REJECT_ON_ERROR, True, CircuitState.FORCED_OPEN, True),
        # still closed: the entry's own failure, charged as an attempt
        (AckPolicy.NACK_ON_ERROR, True, CircuitState.CLOSED, False),
        (AckPolicy.NACK_ON_ERROR, True, CircuitState.METRICS_ONLY, False),
        # an exception the breaker does not count (a poison entry) is never deferred
        (AckPolicy.NACK_ON_ERROR, False, CircuitState.OPEN, False),
        # policies that do not retry or dead-letter on failure keep their meaning
        (AckPolicy.ACK, True, CircuitState.OPEN, False),
        (AckPolicy.ACK_FIRST, True, CircuitState.OPEN, False),
        (AckPolicy.MANUAL, True, CircuitState.OPEN, False),
    ],
)
def test_defer_for_outage(
    policy: AckPolicy, counted: bool, state: CircuitState, expected: bool
) -> None:
    assert defer_for_outage(policy, counted=counted, state=state) is expected


class RecordingMetrics:
    def __init__(self) -> None:
        self.gauges: dict[str, tuple[float, Labels | None]] = {}

    def inc(self, name: str, amount: float = 1.0, labels: Labels | None = None) -> None:
        pass

    def set(self, name: str, value: float, labels: Labels | None = None) -> None:
        self.gauges[name] = (value, labels)

    def observe(self, name: str, value: float, labels: Labels | None = None) -> None:
        pass


class FakeAdmin:
    def __init__(self, reply: list[GroupInfo] | BaseException) -> None:
        self.reply = reply

    async def groups(self, stream: str) -> list[GroupInfo]:
        if isinstance(self.reply, BaseException):
            raise self.reply
        return self.reply


def group(name: str, *, pending: int, lag: int | None) -> GroupInfo:
    return GroupInfo(
        name=name, consumers=1, pending=pending, last_delivered_id="0-0", entries_read=0, lag=lag
    )


def reporter(reply: list[GroupInfo] | BaseException) -> tuple[Upkeep, RecordingMetrics]:
    metrics = RecordingMetrics()
    upkeep = Upkeep()
    upkeep.stream = "trades.settlement"
    upkeep.config = ConsumerConfig(group="g")
    upkeep._hooks = ConsumerHooks.create(
        stream=upkeep.stream,
        group="g",
        metrics=metrics,
        tracing=None,
        authorizer=None,
        principal=None,
        audit=None,
    )
    upkeep._admin = FakeAdmin(reply)  # type: ignore[assignment]
    return upkeep, metrics


async def test_lag_report_sets_both_gauges_of_its_own_group() -> None:
    upkeep, metrics = reporter([group("other", pending=9, lag=99), group("g", pending=3, lag=7)])
    assert await upkeep._report_lag() is True
    labels = {"stream": "trades.settlement", "group": "g"}
    assert metrics.gauges == {"consumer_pending": (3.0, labels), "consumer_lag": (7.0, labels)}


async def test_lag_report_skips_a_nil_lag() -> None:
    upkeep, metrics = reporter([group("g", pending=4, lag=None)])
    assert await upkeep._report_lag() is True
    assert set(metrics.gauges) == {"consumer_pending"}


async def test_lag_report_survives_errors_and_stops_when_refused() -> None:
    upkeep, metrics = reporter(ConnectionFailedError("reset"))
    assert await upkeep._report_lag() is True  # skipped, tried again next interval
    upkeep, metrics = reporter(AuthorizationError("NOPERM xinfo"))
    assert await upkeep._report_lag() is False  # metrics never stop the consumer
    assert metrics.gauges == {}
