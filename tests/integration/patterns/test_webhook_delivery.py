# ruff: noqa: ASYNC109
"""Webhook delivery against a local HTTP server: retries, dead letters, breakers."""

from __future__ import annotations

import json
import socket
from collections.abc import Mapping

import anyio
import pytest

from redis_fintech_sdk.channels import Priority
from redis_fintech_sdk.connection import AsyncClient
from redis_fintech_sdk.patterns import (
    CategoryPreference,
    DeliveryChannel,
    DeliveryState,
    HttpResponse,
    Notification,
    NotificationRouter,
    NotificationTemplate,
    RouterConfig,
    SendStatus,
    StaticPreferences,
    TemplateRegistry,
    UrllibTransport,
    UserPreferences,
    WebhookConfig,
    WebhookDispatcher,
    WebhookEndpoint,
    WebhookSink,
    verify_webhook,
)
from redis_fintech_sdk.resilience import CircuitBreakerConfig, CircuitState, RetryPolicy
from redis_fintech_sdk.security import HmacKeySet

from ._support import WebhookServer

pytestmark = pytest.mark.anyio

KEYS = HmacKeySet({"wh1": b"k" * 32})
FAST = RetryPolicy(attempts=3, base=0.01, cap=0.05)


def dispatcher(client: AsyncClient, prefix: str, **cfg: object) -> WebhookDispatcher:
    config = WebhookConfig(dead_letters=f"{prefix}:whdlq", **{"retry": FAST, **cfg})  # type: ignore[arg-type]
    return WebhookDispatcher(client, transport=UrllibTransport(trust_env=False), config=config)


def endpoint(url: str, name: str = "crm") -> WebhookEndpoint:
    return WebhookEndpoint(name=name, url=url, keys=KEYS, timeout=2.0)


async def test_500_then_200_is_delivered_on_the_second_attempt(
    aclient: AsyncClient, prefix: str, webhook_server: WebhookServer
) -> None:
    webhook_server.script(500)
    d = dispatcher(aclient, prefix)
    result = await d.post(
        endpoint(webhook_server.url),
        {"amount": "10.00", "account": "A-1"},
        event_type="balance.low",
        event_id=f"{prefix}evt1",
    )
    assert result.delivered
    assert result.attempts == 2
    assert result.status == 200
    assert result.dead_letter_id is None
    reqs = webhook_server.requests
    assert len(reqs) == 2
    # Same event id on both attempts; each is signed and verifies at the receiver.
    assert {r.headers["Idempotency-Key"] for r in reqs} == {f"{prefix}evt1"}
    for r in reqs:
        assert verify_webhook(r.body, r.headers["Rfsdk-Signature"], KEYS) > 0
        assert r.headers["Content-Type"] == "application/json"
    doc = json.loads(reqs[1].body)
    assert doc["id"] == f"{prefix}evt1"
    assert doc["type"] == "balance.low"
    assert doc["data"] == {"amount": "10.00", "account": "A-1"}
    assert await d.dead_letters() == []


async def test_last_attempt_dead_letters_then_redeliver(
    aclient: AsyncClient, prefix: str, webhook_server: WebhookServer
) -> None:
    webhook_server.script(500, 502, 503)
    d = dispatcher(aclient, prefix)
    ep = endpoint(webhook_server.url + "?token=s3cr3t")
    result = await d.post(ep, {"x": 1}, event_type="t", event_id=f"{prefix}evt2")
    assert not result.delivered
    assert (result.attempts, result.status, result.reason) == (3, 503, "http_503")
    assert result.dead_letter_id is not None
    assert len(webhook_server.requests) == 3
    [letter] = await d.dead_letters()
    assert letter.entry_id == result.dead_letter_id
    assert (letter.endpoint, letter.event_id, letter.attempts, letter.status) == (
        "crm",
        f"{prefix}evt2",
        3,
        503,
    )
    assert "s3cr3t" not in letter.url
    assert letter.url.endswith("/hooks")
    assert letter.body == webhook_server.requests[-1].body
    # The receiver is fixed: redeliver the stored body with the same event id.
    again = await d.redeliver(letter, ep)
    assert again.delivered
    assert again.attempts == 1
    assert webhook_server.requests[-1].headers["Rfsdk-Event-Id"] == f"{prefix}evt2"
    assert await d.dead_letters() == []


async def test_a_final_4xx_is_not_retried(
    aclient: AsyncClient, prefix: str, webhook_server: WebhookServer
) -> None:
    webhook_server.script(404)
    d = dispatcher(aclient, prefix)
    result = await d.post(endpoint(webhook_server.url), {}, event_type="t", event_id="e")
    assert (result.delivered, result.attempts, result.reason) == (False, 1, "http_404")
    assert len(await d.dead_letters()) == 1
    assert d.breaker("crm").state is CircuitState.CLOSED  # the endpoint answered


async def test_connection_refused_is_retried_then_dead_lettered(
    aclient: AsyncClient, prefix: str
) -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    d = dispatcher(aclient, prefix)
    result = await d.post(endpoint(f"http://127.0.0.1:{port}/x"), {}, event_type="t", event_id="e")
    assert (result.delivered, result.attempts, result.status) == (False, 3, None)
    assert result.reason == "transport:ConnectionRefusedError"


async def test_breaker_opens_per_endpoint(
    aclient: AsyncClient, prefix: str, webhook_server: WebhookServer
) -> None:
    webhook_server.script(500, 500)
    d = dispatcher(
        aclient,
        prefix,
        retry=RetryPolicy(attempts=2, base=0.01, cap=0.01),
        breaker=CircuitBreakerConfig(consecutive_failures=2, open_interval=60.0),
    )
    first = await d.post(endpoint(webhook_server.url), {}, event_type="t", event_id="e1")
    assert first.attempts == 2
    assert d.breaker("crm").state is CircuitState.OPEN
    second = await d.post(endpoint(webhook_server.url), {}, event_type="t", event_id="e2")
    assert (second.attempts, second.reason) == (0, "circuit_open")
    assert len(webhook_server.requests) == 2  # no request while open
    # Another endpoint has its own breaker.
    other = await d.post(endpoint(webhook_server.url, "erp"), {}, event_type="t", event_id="e3")
    assert other.delivered
    assert [dl.reason for dl in await d.dead_letters()] == ["http_500", "circuit_open"]
    stats = d.statistics()
    assert (stats.delivered, stats.dead_lettered, stats.attempts) == (1, 2, 3)
    assert stats.open_breakers == ("crm",)


class ScriptedTransport:
    def __init__(self, *responses: HttpResponse) -> None:
        self.responses = list(responses)
        self.calls = 0

    async def post(
        self, url: str, body: bytes, headers: Mapping[str, str], *, timeout: float
    ) -> HttpResponse:
        self.calls += 1
        return self.responses.pop(0)


async def test_retry_after_is_honoured_up_to_the_cap(aclient: AsyncClient, prefix: str) -> None:
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    transport = ScriptedTransport(
        HttpResponse(429, retry_after=7.0), HttpResponse(503, retry_after=999.0), HttpResponse(200)
    )
    d = WebhookDispatcher(
        aclient,
        transport=transport,
        config=WebhookConfig(dead_letters=f"{prefix}:whdlq", retry=FAST, max_retry_after=30.0),
        sleep=sleep,
    )
    result = await d.post(endpoint("http://127.0.0.1:9/x"), {}, event_type="t", event_id="e")
    assert result.delivered
    assert transport.calls == 3
    assert slept == [7.0, 30.0]


async def test_webhook_sink_failure_is_tracked(
    aclient: AsyncClient, prefix: str, webhook_server: WebhookServer
) -> None:
    webhook_server.script(*([500] * 10))
    user = f"{prefix}u"
    router = NotificationRouter(
        aclient,
        sinks=[WebhookSink(dispatcher(aclient, prefix), endpoint(webhook_server.url))],
        preferences=StaticPreferences(
            {
                user: UserPreferences(
                    user_id=user,
                    default=CategoryPreference(channels=frozenset({DeliveryChannel.WEBHOOK})),
                )
            }
        ),
        templates=TemplateRegistry([NotificationTemplate(template_id="t", title="T", body="B")]),
        config=RouterConfig(key_prefix=prefix),
    )
    n = Notification(user_id=user, category="ops", priority=Priority.HIGH, template_id="t")
    result = await router.send(n)
    assert result.status is SendStatus.FAILED
    assert result.errors == {DeliveryChannel.WEBHOOK: "WebhookDeliveryError:http_500"}
    status = await router.status(n.notification_id)
    assert status is not None
    assert status.sinks["webhook"].state is DeliveryState.FAILED
    assert status.sinks["webhook"].error == "WebhookDeliveryError:http_500"
    assert len(webhook_server.requests) == 3
    body = json.loads(webhook_server.requests[0].body)
    assert body["id"] == n.notification_id
    assert body["data"]["title"] == "T"


async def test_redirects_are_not_followed(
    aclient: AsyncClient, prefix: str, webhook_server: WebhookServer
) -> None:
    webhook_server.script(307)
    d = dispatcher(aclient, prefix)
    result = await d.post(endpoint(webhook_server.url), {}, event_type="t", event_id="e")
    assert (result.delivered, result.attempts, result.reason) == (False, 1, "http_307")
    assert len(webhook_server.requests) == 1


class HangingTransport:
    async def post(
        self, url: str, body: bytes, headers: Mapping[str, str], *, timeout: float
    ) -> HttpResponse:
        await anyio.sleep_forever()
        raise AssertionError("unreachable")


async def test_a_cancelled_post_is_dead_lettered(aclient: AsyncClient, prefix: str) -> None:
    d = WebhookDispatcher(
        aclient,
        transport=HangingTransport(),
        config=WebhookConfig(dead_letters=f"{prefix}:whdlq", retry=FAST),
    )
    with anyio.move_on_after(0.2) as scope:
        await d.post(endpoint("http://127.0.0.1:9/x"), {"a": 1}, event_type="t", event_id="e9")
    assert scope.cancelled_caught
    [letter] = await d.dead_letters()
    assert (letter.event_id, letter.reason, letter.attempts) == ("e9", "cancelled", 1)
