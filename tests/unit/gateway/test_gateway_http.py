"""Routing, auth failures and JSON errors of the gateway ASGI app, in-process, no Redis."""

from __future__ import annotations

import json

import pytest

from redis_fintech_sdk.gateway import GatewayApp
from redis_fintech_sdk.gateway.testclient import request, websocket

from .gw_tokens import auth, token

pytestmark = pytest.mark.anyio


async def test_healthz(app: GatewayApp) -> None:
    r = await request(app, "GET", "/healthz")
    assert (r.status, r.json()) == (200, {"status": "ok"})
    assert r.headers["content-type"] == "application/json"


async def test_unknown_path_is_404_json(app: GatewayApp) -> None:
    r = await request(app, "GET", "/nope")
    assert r.status == 404
    assert r.json()["error"] == "not_found"


async def test_wrong_method_is_405_with_allow(app: GatewayApp) -> None:
    r = await request(app, "POST", "/v1/stream")
    assert r.status == 405
    assert r.headers["allow"] == "GET"
    r = await request(app, "GET", "/v1/admin/publish")
    assert (r.status, r.headers["allow"]) == (405, "POST")


async def test_dashboard_is_self_contained_html(app: GatewayApp) -> None:
    r = await request(app, "GET", "/dashboard")
    assert r.status == 200
    assert r.headers["content-type"].startswith("text/html")
    html = r.body.decode()
    assert "<script>" in html
    assert "/v1/metrics" in html
    assert "src=" not in html  # no external script or CDN
    assert "https://" not in html
    assert "innerHTML" not in html


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer not.a.token"}, {"Authorization": "Basic abc"}],
    ids=["missing", "invalid", "wrong-scheme"],
)
async def test_stream_needs_a_valid_token(app: GatewayApp, headers: dict[str, str]) -> None:
    r = await request(app, "GET", "/v1/stream", query="channels=market.price.AAPL", headers=headers)
    assert r.status == 401
    assert r.headers["www-authenticate"].startswith("Bearer")
    assert r.json()["error"] == "unauthorized"


async def test_stream_forbidden_channel_and_pattern(app: GatewayApp) -> None:
    tok = token(("market.price.*", "subscribe"))
    r = await request(app, "GET", "/v1/stream", query="channels=orders.new", headers=auth(tok))
    assert r.status == 403
    assert "orders.new" in r.json()["detail"]
    # A pattern wider than the grant is refused too.
    r = await request(app, "GET", "/v1/stream", query="channels=market.*", headers=auth(tok))
    assert r.status == 403
    # The token is never echoed.
    assert tok not in r.body.decode()


async def test_stream_publish_only_grant_cannot_subscribe(app: GatewayApp) -> None:
    tok = token(("market.price.*", "publish"))
    r = await request(
        app, "GET", "/v1/stream", query="channels=market.price.AAPL", headers=auth(tok)
    )
    assert r.status == 403


async def test_stream_bad_requests(app: GatewayApp) -> None:
    tok = token(("market.*", "subscribe"))
    r = await request(app, "GET", "/v1/stream", headers=auth(tok))
    assert (r.status, r.json()["error"]) == (400, "bad_request")
    r = await request(app, "GET", "/v1/stream", query="channels=bad%20name", headers=auth(tok))
    assert (r.status, r.json()["error"]) == (400, "bad_channel")


async def test_stream_before_start_is_503(app: GatewayApp) -> None:
    tok = token(("market.*", "subscribe"))
    r = await request(
        app, "GET", "/v1/stream", query="channels=market.price.AAPL", headers=auth(tok)
    )
    assert (r.status, r.json()["error"]) == (503, "not_started")


async def test_admin_needs_exact_admin_scope(app: GatewayApp) -> None:
    r = await request(app, "GET", "/v1/admin/channels")
    assert r.status == 401
    wildcard = token(("*", "subscribe"), ("*", "publish"), ("*", "read"))
    r = await request(app, "GET", "/v1/admin/channels", headers=auth(wildcard))
    assert r.status == 403
    admin = token(("rfsdk.gateway.admin", "read"))
    r = await request(app, "GET", "/v1/admin/channels", headers=auth(admin))
    assert r.status == 200
    assert r.json() == {"subscriptions": [], "clients": []}


async def test_metrics_need_admin_by_default(app: GatewayApp) -> None:
    r = await request(app, "GET", "/v1/metrics")
    assert r.status == 401
    r = await request(app, "GET", "/v1/metrics", headers=auth(token(("market.*", "subscribe"))))
    assert r.status == 403


async def test_publish_validation(app: GatewayApp) -> None:
    admin = token(("rfsdk.gateway.admin", "read"), ("market.*", "publish"))
    r = await request(app, "POST", "/v1/admin/publish", headers=auth(admin), body=b"{not json")
    assert (r.status, r.json()["error"]) == (400, "bad_request")
    body = json.dumps({"channel": "orders.new", "payload": {}}).encode()
    r = await request(app, "POST", "/v1/admin/publish", headers=auth(admin), body=body)
    assert r.status == 403  # admin, but no publish grant on orders.*
    big = json.dumps({"channel": "market.x", "payload": "x" * 70_000}).encode()
    r = await request(app, "POST", "/v1/admin/publish", headers=auth(admin), body=big)
    assert r.status == 413
    body = json.dumps({"channel": "market.price.X", "payload": {"p": 1}}).encode()
    r = await request(app, "POST", "/v1/admin/publish", headers=auth(admin), body=body)
    assert (r.status, r.json()["error"]) == (503, "not_started")


async def test_websocket_refuses_without_token(app: GatewayApp) -> None:
    async with websocket(app) as ws:
        message = await ws.receive()
    assert message == {"type": "websocket.close", "code": 1008, "reason": "unauthorized"}


async def test_websocket_unknown_path_closes(app: GatewayApp) -> None:
    async with websocket(app, "/elsewhere") as ws:
        message = await ws.receive()
    assert message["type"] == "websocket.close"
