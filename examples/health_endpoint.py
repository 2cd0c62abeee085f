"""Serve /healthz, /readyz and /metrics next to a service that uses the SDK.

Run against a local server::

    python examples/health_endpoint.py redis://127.0.0.1:6379/0
    curl -s 127.0.0.1:9100/readyz; curl -s 127.0.0.1:9100/metrics | grep rfsdk_
"""

from __future__ import annotations

import sys
import time

from redis_fintech_sdk.connection import Client
from redis_fintech_sdk.observability import (
    BreakerMetricsListener,
    HealthServer,
    PrometheusMetrics,
    breaker_check,
    collect_snapshot_sync,
    lag_check,
    redis_check,
)
from redis_fintech_sdk.resilience import CircuitBreaker


def main(url: str, seconds: float = 30.0) -> None:
    metrics = PrometheusMetrics()
    breaker = CircuitBreaker("redis")
    breaker.add_listener(BreakerMetricsListener(metrics))
    with Client.from_url(url) as client:

        def backlog() -> int:
            snapshot = collect_snapshot_sync(client, streams=["orders"])
            for group in snapshot.groups:
                labels = {"stream": group.stream, "group": group.group}
                metrics.set("consumer_lag", group.lag or 0, labels)
                metrics.set("consumer_pending", group.pending, labels)
            return snapshot.max_group_lag()

        checks = {
            "redis": redis_check(client),
            "breaker": breaker_check(breaker),
            "lag": lag_check(backlog, threshold=10_000),
        }
        with HealthServer("127.0.0.1", 9100, checks=checks, metrics=metrics) as server:
            print(f"serving {server.url}/healthz /readyz /metrics for {seconds:.0f} s")
            deadline = time.monotonic() + seconds
            while time.monotonic() < deadline:
                with breaker.guard():
                    client.redis.publish("market.price.AAPL", b"tick")
                metrics.inc(
                    "messages_published_total", labels={"channel": "market.price", "kind": "pubsub"}
                )
                time.sleep(0.5)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "redis://127.0.0.1:6379/0")
