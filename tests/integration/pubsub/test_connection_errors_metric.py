"""``connection_errors_total`` against a real redis-server behind a fault proxy.

Who counts: the client for its own commands (``component=client``), the publisher for its
round trips (``publisher``), the subscriber's reconnect loop for failed connects and failed
sessions (``subscriber``) — each failure once, in the component's own ``metrics`` hook or,
when it has none, in the client's.
"""

from __future__ import annotations

from collections.abc import Callable

import anyio
import pytest

from redis_fintech_sdk.connection import AsyncClient, Client
from redis_fintech_sdk.errors import ConnectionFailedError
from redis_fintech_sdk.observability import InMemoryMetrics
from redis_fintech_sdk.pubsub import (
    AsyncPublisher,
    AsyncSubscriber,
    Disconnected,
    Publisher,
    Resubscribed,
    SubscriberConfig,
)
from redis_fintech_sdk.settings import RetryConfig, Timeouts
from redis_fintech_sdk.testing import RedisServer
from redis_fintech_sdk.testing.faults import FaultProxy

from ._support import EventLog, Tick, codec

NO_RETRY = RetryConfig(attempts=0)
TIMEOUTS = Timeouts(connect=2.0, command=2.0)


async def wait_until(predicate: Callable[[], bool], limit: float = 15.0) -> None:
    with anyio.fail_after(limit):
        while not predicate():  # noqa: ASYNC110 - polling counters, no event to wait on
            await anyio.sleep(0.02)


@pytest.mark.anyio
async def test_publisher_counts_its_connection_failures_once_under_its_own_label(
    redis_server: RedisServer,
) -> None:
    own, shared = InMemoryMetrics(), InMemoryMetrics()
    with FaultProxy(redis_server.address) as proxy:
        async with (
            AsyncClient.from_url(
                proxy.url, metrics=shared, retry=NO_RETRY, timeouts=TIMEOUTS
            ) as client,
            AsyncPublisher(client, codec=codec(), metrics=own) as pub,
            AsyncPublisher(client, codec=codec()) as bare,
        ):
            assert await pub.publish(Tick(symbol="A", n=1), "test.cem.pub") == 0
            assert await bare.publish(Tick(symbol="A", n=1), "test.cem.pub") == 0
            assert shared.total("connection_errors_total") == 0
            proxy.down()
            with pytest.raises(ConnectionFailedError):
                await pub.publish(Tick(symbol="A", n=2), "test.cem.pub")
            with pytest.raises(ConnectionFailedError):
                await bare.publish(Tick(symbol="A", n=2), "test.cem.pub")
            with pytest.raises(ConnectionFailedError):
                await client.ping()
    # The publisher with a hook counted in it, and only there.
    assert own.value("connection_errors_total", component="publisher") == 1
    assert own.total("connection_errors_total") == 1
    assert own.value("publish_errors_total", channel="test.cem", error="ConnectionFailedError") == 1
    # The one without a hook fell back to the client's, still labelled as the publisher;
    # the client's own PING is labelled client.
    assert shared.value("connection_errors_total", component="publisher") == 1
    assert shared.value("connection_errors_total", component="client") == 1
    assert shared.total("connection_errors_total") == 2


def test_sync_client_and_publisher_count_connection_failures(redis_server: RedisServer) -> None:
    own, shared = InMemoryMetrics(), InMemoryMetrics()
    with (
        FaultProxy(redis_server.address) as proxy,
        Client.from_url(proxy.url, metrics=shared, retry=NO_RETRY, timeouts=TIMEOUTS) as client,
        Publisher(client, codec=codec(), metrics=own) as pub,
    ):
        assert pub.publish(Tick(symbol="A", n=1), "test.cem.sync") == 0
        client.ping()
        proxy.down()
        with pytest.raises(ConnectionFailedError):
            pub.publish(Tick(symbol="A", n=2), "test.cem.sync")
        with pytest.raises(ConnectionFailedError):
            client.ping()
    assert own.value("connection_errors_total", component="publisher") == 1
    assert shared.value("connection_errors_total", component="client") == 1
    assert shared.total("connection_errors_total") == 1


@pytest.mark.anyio
async def test_subscriber_counts_failed_connects_and_lost_sessions_not_planned_restarts(
    redis_server: RedisServer,
) -> None:
    metrics = InMemoryMetrics()
    config = SubscriberConfig(
        ping_interval=0.2,
        ping_timeout=0.3,
        connect_timeout=1.0,
        reconnect_base=0.02,
        reconnect_cap=0.1,
    )
    events = EventLog()

    def failures() -> float:
        return metrics.value("connection_errors_total", component="subscriber")

    def resubscribed() -> int:
        return len(events.of(Resubscribed))

    with FaultProxy(redis_server.address) as proxy:
        proxy.down()  # the server "is not there yet": every connect attempt is refused
        async with AsyncClient.from_url(proxy.url, timeouts=TIMEOUTS) as client:
            sub = AsyncSubscriber(client, codec=codec(), config=config, metrics=metrics)
            sub.add_listener(events.append)
            async with sub:
                await sub.subscribe("test.cem.sub", wait=False)
                await wait_until(lambda: failures() >= 2)
                proxy.up()
                await sub.wait_subscribed(timeout=10)
                before = failures()

                # A planned restart (what a new shard subscription on a Cluster does) is no
                # connection failure, though the subscriber reconnects.
                sub._supervisor.restart("resubscribe")
                await wait_until(lambda: resubscribed() == 1)
                assert failures() == before

                # TCP RST: one failed session, one count.
                proxy.reset_peers()
                await wait_until(lambda: resubscribed() == 2)
                assert failures() == before + 1

                # Half-open: the link stays up but no PONG comes back in time.
                proxy.blackhole()
                await wait_until(
                    lambda: any(
                        isinstance(e, Disconnected) and e.reason == "half-open" for e in events
                    )
                )
                proxy.blackhole(False)
                await wait_until(lambda: resubscribed() == 3)
                assert failures() >= before + 2
    assert metrics.value("reconnects_total", component="subscriber") == 3
    # The client had no hook and the subscriber's was used: nothing else was counted.
    assert metrics.total("connection_errors_total") == failures()
