"""HTTP gateway: authenticated SSE / WebSocket fan-out of Pub/Sub, a live dashboard, admin API.

A framework-free ASGI 3 application built by :func:`create_app`::

    app = create_app(client, tokens=TokenVerifier(hmac_keys=keys), config=GatewayConfig())
    # uvicorn.run(app)  -- or: rfsdk gateway --url redis://...

* ``GET /v1/stream?channels=market.price.AAPL,market.price.*`` — Server-Sent Events.
* ``/v1/ws`` — WebSocket with ``{"op": "subscribe" | "unsubscribe", "channels": [...]}``.
* ``GET /dashboard``, ``GET /v1/metrics``, ``GET /metrics`` (Prometheus text),
  ``GET /healthz``, ``GET /readyz``.
* ``GET /v1/admin/channels``, ``POST /v1/admin/publish`` (admin scope).

One Redis subscription per channel or pattern is shared by every client and released when
the last one leaves. Delivery is Pub/Sub's: at-most-once, with gaps reported; on replayable
topics an SSE client resumes from ``Last-Event-ID``. Access decisions can be audited
(``audit=``) and rate-limited per principal (``connect_limiter=``, ``publish_limiter=``).
See ``docs/gateway.md``.
"""

from ._access import AccessStatistics
from ._app import GatewayApp, create_app
from ._client import ClientStatistics
from ._config import GatewayConfig
from ._hub import FanoutHub, GatewayFullError, HubStatistics
from ._logs import TokenLogFilter, protect_server_logs
from ._messages import GatewayMessage, Notice

__all__ = [
    "AccessStatistics",
    "ClientStatistics",
    "FanoutHub",
    "GatewayApp",
    "GatewayConfig",
    "GatewayFullError",
    "GatewayMessage",
    "HubStatistics",
    "Notice",
    "TokenLogFilter",
    "create_app",
    "protect_server_logs",
]
