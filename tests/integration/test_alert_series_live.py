"""Every ``rfsdk_*`` series the alert rules and the Grafana dashboard read is *emitted*.

tests/unit/ops/test_ops_deploy.py checks that each series is *declared* in ``SDK_METRICS``;
a declared metric that no code reports still makes a dead alert. Here SDK code runs against
a real redis-server and reports into one ``PrometheusMetrics`` registry: a publisher, a
subscriber whose connection is reset (reconnect, connection error), a slow consumer (drops),
a skipped sequence number (gap), a stream producer whose XADD is cut after reaching the
server (retry), and a stream consumer whose handler fails (dead letter). The registry is
then read back in the exposition format Prometheus scrapes.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest
import yaml
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from redis_fintech_sdk.codec import Codec, Keyring, Message, default_registry, message
from redis_fintech_sdk.connection import AsyncClient
from redis_fintech_sdk.errors import AuthorizationError
from redis_fintech_sdk.observability import PrometheusMetrics
from redis_fintech_sdk.pubsub import (
    AsyncPublisher,
    AsyncSubscriber,
    GapDetected,
    OverflowPolicy,
    Resubscribed,
    SubscriberConfig,
    SubscriberEvent,
)
from redis_fintech_sdk.settings import RetryConfig, Timeouts
from redis_fintech_sdk.streams import AsyncStreamProducer, StreamConsumer, StreamMessage
from redis_fintech_sdk.testing import RedisServer
from redis_fintech_sdk.testing.faults import FaultProxy

ROOT = Path(__file__).resolve().parents[2]
ALERTS = ROOT / "deploy" / "prometheus" / "alerts.yml"
DASHBOARD = ROOT / "deploy" / "grafana" / "rfsdk-dashboard.json"

# consumer_lag / consumer_pending come from StreamConsumer's XINFO GROUPS report, which runs
# at start (and every ``lag_interval``) when the consumer has ``metrics=``.
LAG_SERIES = frozenset({"rfsdk_consumer_lag", "rfsdk_consumer_pending"})

TIMEOUTS = Timeouts(connect=2.0, command=2.0, max_block=5.0)

if default_registry.get("test.alertseries.tick") is None:

    @message("test.alertseries.tick", version=1)
    class SeriesTick(Message):
        """A test price tick."""

        n: int

else:  # pragma: no cover - re-imported under another module name
    SeriesTick = default_registry.get("test.alertseries.tick").model  # type: ignore[union-attr,misc]


def _exprs(node: Any) -> Iterator[str]:
    """Every ``expr`` string anywhere in a rules file or dashboard (rows nest panels)."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "expr" and isinstance(value, str):
                yield value
            else:
                yield from _exprs(value)
    elif isinstance(node, list):
        for item in node:
            yield from _exprs(item)


def referenced_series() -> set[str]:
    """``rfsdk_*`` series names the alerts and the dashboard query (as Prometheus names)."""
    text = " ".join(
        [*_exprs(yaml.safe_load(ALERTS.read_text())), *_exprs(json.loads(DASHBOARD.read_text()))]
    )
    return set(re.findall(r"\brfsdk_[a-z_]+", text))


def scrape(metrics: PrometheusMetrics) -> dict[str, list[tuple[dict[str, str], float]]]:
    """Sample name -> ``(labels, value)`` of every sample, parsed as Prometheus would."""
    samples: dict[str, list[tuple[dict[str, str], float]]] = {}
    text = generate_latest(metrics.registry).decode()
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples.setdefault(sample.name, []).append((dict(sample.labels), sample.value))
    return samples


async def wait_until(predicate: Callable[[], bool], limit: float = 20.0) -> None:
    with anyio.fail_after(limit):
        while not predicate():  # noqa: ASYNC110 - polling counters, no event to wait on
            await anyio.sleep(0.02)


class _Refuse:
    """A channel policy that refuses every publish."""

    def check_publish(self, channel: str, principal: Any = None) -> None:
        raise AuthorizationError("not allowed", channel=channel)

    def check_subscribe(self, channel: str, principal: Any = None) -> None:
        return None

    def check_produce(self, stream: str, principal: Any = None) -> None:
        return None

    def check_consume(self, stream: str, principal: Any = None) -> None:
        return None


async def _drive_pubsub(
    direct: AsyncClient, flaky: AsyncClient, proxy: FaultProxy, metrics: PrometheusMetrics
) -> None:
    channel = "alerts.price.A"
    pub_codec = Codec()
    config = SubscriberConfig(
        buffer_capacity=2,
        overflow=OverflowPolicy.DROP_OLDEST,
        buffer_sample_interval=0.05,
        reconnect_base=0.02,
        reconnect_cap=0.1,
        connect_timeout=2.0,
    )
    events: list[SubscriberEvent] = []
    sub = AsyncSubscriber(flaky, codec=Codec(), config=config, metrics=metrics)
    sub.add_listener(events.append)
    async with sub, AsyncPublisher(direct, codec=pub_codec, metrics=metrics) as pub:
        await sub.subscribe(channel)
        # A publish the authorizer refuses (RfsdkAuthorizationDenials) ...
        refusing = AsyncPublisher(direct, codec=pub_codec, metrics=metrics, authorizer=_Refuse())
        with pytest.raises(AuthorizationError):
            await refusing.publish(SeriesTick(n=-1), channel)
        for n in range(5):  # nobody reads yet: 3 of 5 are dropped from a buffer of 2
            assert await pub.publish(SeriesTick(n=n), channel) == 1
        await wait_until(lambda: sub.statistics().received == 5)
        await wait_until(lambda: sub.statistics().buffer.dropped_oldest == 3)
        # The sampler reports the 2 waiting messages before the application takes them.
        await wait_until(
            lambda: (
                metrics.registry.get_sample_value(
                    "rfsdk_subscriber_buffer_size", {"channel": "alerts.price"}
                )
                == 2
            )
        )
        assert [(await sub.get(timeout=5)).payload.n for _ in range(2)] == [3, 4]

        pub_codec.encode(SeriesTick(n=99), channel=channel)  # sequence 6 never published
        assert await pub.publish(SeriesTick(n=6), channel) == 1
        assert (await sub.get(timeout=5)).payload.n == 6
        assert any(isinstance(e, GapDetected) for e in events)

        proxy.reset_peers()  # forced connection error: the subscriber must reconnect
        await wait_until(lambda: any(isinstance(e, Resubscribed) for e in events))
        await sub.wait_subscribed(timeout=10)
        assert await pub.publish(SeriesTick(n=7), channel) == 1
        assert (await sub.get(timeout=5)).payload.n == 7
        # A frame sealed under a key this subscriber lacks (RfsdkFramesRefused) is skipped
        # and counted when the application reads past it.
        foreign = Codec(keyring=Keyring.generate(77)).encode(SeriesTick(n=-2), channel=channel)
        assert await pub.publish_frame(channel, foreign) == 1
        assert await pub.publish(SeriesTick(n=8), channel) == 1
        assert (await sub.get(timeout=5)).payload.n == 8
        assert sub.statistics().bad_frames == 1


async def _drive_streams(
    direct: AsyncClient, flaky: AsyncClient, proxy: FaultProxy, metrics: PrometheusMetrics
) -> None:
    stream = "t:alert-series:trades"
    await direct.redis.delete(stream, f"{stream}:dlq")
    codec = Codec()
    producer = AsyncStreamProducer(flaky, stream, codec=codec, metrics=metrics)
    await producer.add(SeriesTick(n=1))  # loads the script; later cuts hit an applied call
    features = await producer.features()
    proxy.cut_after("XADD" if features.xadd_idmp else "EVALSHA", nth=1)
    await producer.add(SeriesTick(n=2))  # cut after it reached the server: retried
    assert proxy.cut_fired
    assert await direct.redis.xlen(stream) == 2  # the retry was deduplicated, not re-added

    async def handler(msg: StreamMessage) -> None:
        raise ValueError("settlement rejected")

    consumer = StreamConsumer(
        direct,
        stream,
        handler,
        group="alert-series",
        codec=codec,
        metrics=metrics,
        max_attempts=1,
        block=0.1,
    )
    async with consumer:
        await wait_until(lambda: consumer.statistics().dead_lettered == 2)
    await direct.redis.delete(stream, f"{stream}:dlq")


@pytest.mark.anyio
async def test_every_alert_and_dashboard_series_is_emitted_by_sdk_code(
    redis_server: RedisServer,
) -> None:
    referenced = referenced_series()
    # Not vacuous: the files were read, and they use the series this change made live.
    assert {"rfsdk_connection_errors_total", "rfsdk_reconnects_total"} <= referenced
    assert referenced >= LAG_SERIES

    metrics = PrometheusMetrics()
    with (
        FaultProxy(redis_server.address) as sub_proxy,
        FaultProxy(redis_server.address) as xadd_proxy,
    ):
        async with (
            AsyncClient.from_url(redis_server.url, metrics=metrics, timeouts=TIMEOUTS) as direct,
            AsyncClient.from_url(sub_proxy.url, metrics=metrics, timeouts=TIMEOUTS) as via_sub,
            # No connection-level retry: the cut surfaces to the producer, which retries.
            AsyncClient.from_url(
                xadd_proxy.url, metrics=metrics, timeouts=TIMEOUTS, retry=RetryConfig(attempts=0)
            ) as via_xadd,
        ):
            await _drive_pubsub(direct, via_sub, sub_proxy, metrics)
            await _drive_streams(direct, via_xadd, xadd_proxy, metrics)

    samples = scrape(metrics)
    missing: list[str] = []
    for series in sorted(referenced):
        values = [value for _, value in samples.get(series, [])]
        # Counters and histogram buckets must have counted something; gauges be present.
        counted = series.endswith(("_total", "_bucket"))
        if not values or (counted and not any(v > 0 for v in values)):
            missing.append(series)
    assert not missing, f"referenced by alerts/dashboard but never emitted: {missing}"

    # The connection failures were counted by the layer that saw them.
    errors = {
        labels["component"]: value for labels, value in samples["rfsdk_connection_errors_total"]
    }
    assert errors.get("subscriber", 0) >= 1  # the reset of the subscriber's link
    assert errors.get("client", 0) >= 1  # the cut XADD, translated by the client
    # The declared-but-unused gauge is emitted too (sampled from the subscriber's buffer).
    assert "rfsdk_subscriber_buffer_size" in samples
