"""``POST /v1/admin/publish``: publish one message through the SDK publisher, as an admin."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from redis_fintech_sdk.channels import Channel
from redis_fintech_sdk.codec import Envelope
from redis_fintech_sdk.errors import AuthorizationError, ConfigurationError, SDKError
from redis_fintech_sdk.security import TokenClaims

from ._asgi import HttpError, Receive, read_body

if TYPE_CHECKING:
    from ._app import GatewayApp

__all__ = ["admin_publish"]


async def admin_publish(app: GatewayApp, claims: TokenClaims, receive: Receive) -> dict[str, Any]:
    """Publish ``{"channel", "payload", "type"?}`` for an admin; return the receipt.

    The principal's publish allowance is taken first, then the body is read and the
    channel authorized; the publish is audited (``published``).

    Raises:
        HttpError: 400 bad body, 403 refused, 413 too large, 429 rate limited, 502 Redis
            refused, 503 not started.
    """
    await app.guard.admit("publish", claims, where="admin publish")
    body = await read_body(receive, app.config.max_body_bytes)
    try:
        request = json.loads(body)
        channel = str(Channel(request["channel"]))
        payload = request["payload"]
        type_name = request.get("type", "gateway.message")
        if not isinstance(type_name, str):
            raise TypeError("type")
    except (ValueError, KeyError, TypeError, ConfigurationError):
        raise HttpError(
            400, "bad_request", 'expected {"channel": "<a.b>", "payload": ..., "type"?}'
        ) from None
    await app.guard.authorize(claims, "publish", [channel], where="admin publish")
    publisher = app.publisher
    if publisher is None:
        raise HttpError(503, "not_started", "the gateway is not running")
    try:
        envelope = Envelope(type=type_name, payload=payload, tenant=claims.tenant)
        receivers = await publisher.publish(envelope, channel)
    except ConfigurationError as exc:
        raise HttpError(400, "bad_request", str(exc)) from None
    except AuthorizationError:
        raise HttpError(403, "forbidden", f"redis refuses publish on {channel}") from None
    except SDKError as exc:
        raise HttpError(502, "publish_failed", type(exc).__name__) from None
    await app.guard.published(claims, channel, envelope.message_id)
    return {"channel": channel, "receivers": receivers, "message_id": envelope.message_id}
