"""Shared helpers of the security integration tests."""

from __future__ import annotations

import secrets
from typing import Any

from redis_fintech_sdk.connection import AsyncClient
from redis_fintech_sdk.settings import ConnectionConfig, Credentials, Secret
from redis_fintech_sdk.testing import RedisServer


def config_for(server: RedisServer, user: str, password: str) -> ConnectionConfig:
    return ConnectionConfig(
        host=server.host,
        port=server.port,
        credentials=Credentials(username=user, password=Secret(password)),
    )


def admin_config(server: RedisServer) -> ConnectionConfig:
    return config_for(server, "admin", server.users["admin"])


def new_password() -> str:
    return "pw-" + secrets.token_urlsafe(18)


def unique(prefix: str) -> str:
    return f"{prefix}-{secrets.token_hex(4)}"


async def subscribe_once(client: AsyncClient, channel: str, *, pattern: bool = False) -> Any:
    """Subscribe (or psubscribe) and wait for the confirmation; NOPERM is mapped.

    Returns the open PubSub (caller closes it).

    Raises:
        AuthorizationError: the server refused with NOPERM.
    """
    pubsub = client.pubsub()
    try:
        with client.translate_errors("PSUBSCRIBE" if pattern else "SUBSCRIBE", channel=channel):
            if pattern:
                await pubsub.psubscribe(channel)
            else:
                await pubsub.subscribe(channel)
            reply = await pubsub.get_message(timeout=2.0)
        assert reply is not None
        assert reply["type"] in ("subscribe", "psubscribe")
    except BaseException:
        await pubsub.aclose()  # type: ignore[no-untyped-call]
        raise
    return pubsub
