"""HTTP gateway: authenticated SSE / WebSocket fan-out of Pub/Sub, a live dashboard, admin API.

A framework-free ASGI 3 application built by :func:`create_app`::

    app = create_app(client, tokens=TokenVerifier(hmac_keys=keys), config=GatewayConfig())
    # uvicorn.run(app)  -- or: rfsdk gateway --url redis://...

* ``GET /v1/stream?channels=market.price.AAPL,market.price.*`` — Server-Sent Events.
* ``/v1/ws`` — WebSocket with ``{"op": "subscribe" | "unsubscribe", "channels": [...]}``.
* ``GET /dashboard``, ``GET /v1/metrics``, ``GET /healthz``, ``GET /readyz``.
* ``GET /v1/admin/channels``, ``POST /v1/admin/publish`` (admin scope).

One Redis subscription per channel or pattern is shared by every client and released when
the last one leaves. Delivery is Pub/Sub's: at-most-once, with gaps reported. See
``docs/gateway.md``.
"""

from ._app import GatewayApp, create_app
from ._client import ClientStatistics
from ._config import GatewayConfig
from ._hub import FanoutHub, GatewayFullError, HubStatistics
from ._messages import GatewayMessage, Notice

__all__ = [
    "ClientStatistics",
    "FanoutHub",
    "GatewayApp",
    "GatewayConfig",
    "GatewayFullError",
    "GatewayMessage",
    "HubStatistics",
    "Notice",
    "create_app",
]
