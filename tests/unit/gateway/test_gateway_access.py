"""Access auditing and per-principal rate limits of the gateway, in-process, before any Redis I/O.

The app is never started: every request here is decided (401/403/429) before the gateway
would subscribe or publish, and a request the guard lets through ends in 503 ``not_started``
— which is how these tests see that it passed the guard.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest

from redis_fintech_sdk.connection import AsyncClient
from redis_fintech_sdk.gateway import GatewayApp, GatewayConfig, create_app
from redis_fintech_sdk.gateway._access import rate_subject
from redis_fintech_sdk.gateway.testclient import request, websocket
from redis_fintech_sdk.security import (
    ChannelGrant,
    HmacKeySet,
    RateLimit,
    TokenIssuer,
)

from .gw_hooks import MemoryLimiter, RecordingAudit
from .gw_tokens import ISSUER, VERIFIER, auth, token

pytestmark = pytest.mark.anyio

STREAM_QUERY = "channels=market.price.AAPL"
READ = ("market.*", "subscribe")
ADMIN = ("rfsdk.gateway.admin", "read")


def _app(**hooks: Any) -> GatewayApp:
    client = AsyncClient.from_url("redis://127.0.0.1:1/0")  # never connected
    return create_app(client, tokens=VERIFIER, config=GatewayConfig(), **hooks)


def _flat(events: list[dict[str, str]]) -> str:
    return json.dumps(events)


async def test_refused_token_is_audited_without_the_token() -> None:
    audit = RecordingAudit()
    app = _app(audit=audit)
    foreign = TokenIssuer(hmac_keys=HmacKeySet.generate("other")).issue(
        "mallory", [ChannelGrant.of("market.*", "subscribe")]
    )
    r = await request(app, "GET", "/v1/stream", query=STREAM_QUERY, headers=auth(foreign))
    assert r.status == 401
    r = await request(app, "GET", "/v1/stream", query=STREAM_QUERY)
    assert r.status == 401
    assert audit.kinds() == ["token_refused", "token_refused"]
    first, second = audit.events
    assert (first["actor"], first["outcome"], first["channel"]) == (
        "anonymous",  # an unverified token's subject is never trusted as the actor
        "denied",
        "market.price.AAPL",
    )
    assert first["reason"].startswith("sse from 127.0.0.1: token refused")
    assert second["reason"] == "sse from 127.0.0.1: missing bearer token"
    assert foreign not in _flat(audit.events)
    assert app.guard.statistics().unauthorized == 2


async def test_forbidden_channel_and_admin_scope_are_audited() -> None:
    audit = RecordingAudit()
    app = _app(audit=audit)
    reader = token(READ)
    r = await request(app, "GET", "/v1/stream", query="channels=orders.new", headers=auth(reader))
    assert r.status == 403
    r = await request(app, "GET", "/v1/admin/channels", headers=auth(reader))
    assert r.status == 403
    denied, admin = audit.events
    assert (denied["kind"], denied["actor"], denied["channel"], denied["outcome"]) == (
        "permission_denied",
        "user-1",
        "orders.new",
        "denied",
    )
    assert "sse subscribe" in denied["reason"]
    assert (admin["kind"], admin["actor"]) == ("permission_denied", "user-1")
    assert admin["reason"] == "GET /v1/admin/channels from 127.0.0.1: admin scope required"
    assert reader not in _flat(audit.events)
    assert app.guard.statistics().forbidden == 2


async def test_refused_websocket_is_audited() -> None:
    audit = RecordingAudit()
    app = _app(audit=audit)
    async with websocket(app, query="token=not.a.token") as ws:
        message = await ws.receive()
    assert message["code"] == 1008
    (event,) = audit.events
    assert event["kind"] == "token_refused"
    assert event["reason"].startswith("ws from 127.0.0.1: token refused")
    assert "not.a.token" not in _flat(audit.events)


async def test_failing_audit_sink_never_changes_the_answer(
    caplog: pytest.LogCaptureFixture,
) -> None:
    app = _app(audit=RecordingAudit(fail=True))
    reader = token(READ)
    with caplog.at_level(logging.WARNING, logger="redis_fintech_sdk.gateway"):
        r = await request(app, "GET", "/v1/stream", query=STREAM_QUERY)
        assert r.status == 401
        r = await request(app, "GET", "/v1/stream", query="channels=x.y", headers=auth(reader))
        assert r.status == 403
    assert app.guard.statistics().audit_errors == 2
    assert "audit sink failed (RedisError)" in caplog.text
    assert reader not in caplog.text


async def test_connect_limit_is_per_principal_with_retry_after() -> None:
    limiter = MemoryLimiter(RateLimit(rate=1, period=60, burst=2))
    audit = RecordingAudit()
    app = _app(connect_limiter=limiter, audit=audit)
    one = auth(token(READ))
    other = auth(ISSUER.issue("user-2", [ChannelGrant.of("market.*", "subscribe")]))
    # A refused token never reaches the limiter (there is no principal to charge).
    assert (await request(app, "GET", "/v1/stream", query=STREAM_QUERY)).status == 401
    assert limiter.subjects == []
    for _ in range(2):  # the burst passes the limiter (and then finds the app not started)
        r = await request(app, "GET", "/v1/stream", query=STREAM_QUERY, headers=one)
        assert (r.status, r.json()["error"]) == (503, "not_started")
    r = await request(app, "GET", "/v1/stream", query=STREAM_QUERY, headers=one)
    assert (r.status, r.json()["error"]) == (429, "rate_limited")
    assert r.headers["retry-after"] == "60"
    # Another principal has its own allowance.
    r = await request(app, "GET", "/v1/stream", query=STREAM_QUERY, headers=other)
    assert r.status == 503
    assert set(limiter.subjects) == {"connect:user-1", "connect:user-2"}
    # After the emission interval one more connection is allowed.
    limiter.now_us += 60_000_000
    r = await request(app, "GET", "/v1/stream", query=STREAM_QUERY, headers=one)
    assert r.status == 503
    assert app.guard.statistics().rate_limited == {"connect": 1}
    limited = [e for e in audit.events if e["kind"] == "rate_limited"]
    assert [(e["actor"], e["outcome"]) for e in limited] == [("user-1", "denied")]
    assert limited[0]["reason"] == "sse: connect limit, retry after 60s"


async def test_publish_limit_counts_admin_publishes_only() -> None:
    connect = MemoryLimiter(RateLimit(rate=1, period=10, burst=1))
    publish = MemoryLimiter(RateLimit(rate=1, period=10, burst=1))
    app = _app(connect_limiter=connect, publish_limiter=publish)
    admin = auth(token(ADMIN, ("market.*", "publish")))
    body = json.dumps({"channel": "market.price.X", "payload": {"p": 1}}).encode()
    r = await request(app, "POST", "/v1/admin/publish", headers=admin, body=body)
    assert (r.status, r.json()["error"]) == (503, "not_started")
    r = await request(app, "POST", "/v1/admin/publish", headers=admin, body=body)
    assert (r.status, r.headers["retry-after"]) == (429, "10")
    assert "publish" in r.json()["detail"]
    assert publish.subjects == ["publish:user-1", "publish:user-1"]
    assert connect.subjects == []
    # Reading the admin API is not a publish.
    assert (await request(app, "GET", "/v1/admin/channels", headers=admin)).status == 200
    assert app.guard.statistics().rate_limited == {"publish": 1}


async def test_websocket_over_the_limit_gets_http_429_or_close_1013() -> None:
    app = _app(connect_limiter=MemoryLimiter(RateLimit(rate=1, period=5, burst=1)))
    headers = auth(token(READ))
    async with websocket(app, headers=headers, denial_response=True) as ws:
        first = await ws.receive()
    # Passed the limiter, refused because the app is not started: a real HTTP answer too.
    assert (first["type"], first["status"]) == ("websocket.http.response.start", 503)
    async with websocket(app, headers=headers, denial_response=True) as ws:
        start = await ws.receive()
        body = await ws.receive()
    assert (start["type"], start["status"]) == ("websocket.http.response.start", 429)
    assert dict(start["headers"])[b"retry-after"] == b"5"
    assert json.loads(body["body"])["error"] == "rate_limited"
    # Without the ASGI denial-response extension: close 1013 (try again later).
    async with websocket(app, headers=headers) as ws:
        closed = await ws.receive()
    assert closed == {"type": "websocket.close", "code": 1013, "reason": "rate_limited"}


async def test_unreachable_limiter_is_503_not_429() -> None:
    app = _app(connect_limiter=MemoryLimiter(RateLimit(rate=1), broken=True))
    r = await request(app, "GET", "/v1/stream", query=STREAM_QUERY, headers=auth(token(READ)))
    assert (r.status, r.json()) == (
        503,
        {"error": "rate_limiter_unavailable", "detail": "RedisError"},
    )
    assert app.guard.statistics().rate_limited == {}


def test_rate_subject_is_per_subject_and_tenant_qualified() -> None:
    plain = VERIFIER.verify(token(READ))
    tenant = VERIFIER.verify(
        ISSUER.issue("user-1", [ChannelGrant.of("market.*", "subscribe")], tenant="acme")
    )
    assert rate_subject("connect", plain) == "connect:user-1"
    assert rate_subject("publish", tenant) == "publish:tenant:acme:user-1"
