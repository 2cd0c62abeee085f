"""Server-side output buffers of Pub/Sub clients (``CLIENT LIST`` omem) as a metric.

Redis disconnects a subscriber whose output buffer passes ``client-output-buffer-limit``
(default ``pubsub 32mb 8mb 60``). Watching ``omem`` shows the trouble before it happens.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from redis_fintech_sdk.connection import AsyncClient

__all__ = ["OutputBufferReport", "output_buffers", "parse_client_list"]


@dataclass(frozen=True)
class OutputBufferReport:
    """One Pub/Sub client's server-side output buffer.

    Attributes:
        client_id: the server's client id.
        name: the client name (``CLIENT SETNAME``).
        address: the client's address as the server sees it.
        omem: output buffer memory, bytes.
        output_list_length: queued reply blocks (``oll``).
        subscriptions: channels + patterns + shard channels subscribed.
    """

    client_id: int
    name: str
    address: str
    omem: int
    output_list_length: int
    subscriptions: int


def _int(fields: dict[str, str], name: str) -> int:
    try:
        return int(fields.get(name, "0"))
    except ValueError:
        return 0


def parse_client_list(text: str) -> list[OutputBufferReport]:
    """Parse ``CLIENT LIST`` output; keep clients that hold any subscription."""
    out: list[OutputBufferReport] = []
    for line in text.splitlines():
        fields = dict(part.split("=", 1) for part in line.split(" ") if "=" in part)
        subs = _int(fields, "sub") + _int(fields, "psub") + _int(fields, "ssub")
        if not subs and "P" not in fields.get("flags", ""):
            continue
        out.append(
            OutputBufferReport(
                client_id=_int(fields, "id"),
                name=fields.get("name", ""),
                address=fields.get("addr", ""),
                omem=_int(fields, "omem"),
                output_list_length=_int(fields, "oll"),
                subscriptions=subs,
            )
        )
    return out


async def output_buffers(client: AsyncClient) -> list[OutputBufferReport]:
    """``CLIENT LIST TYPE pubsub`` on the server (every primary on a Cluster).

    Raises:
        AuthorizationError: the user may not run ``CLIENT LIST``.
        RedisError: the server cannot be reached.
    """
    with client.translate_errors("CLIENT"):
        reply: Any = await client.redis.execute_command("CLIENT", "LIST", "TYPE", "pubsub")
    texts: list[Any] = list(reply.values()) if isinstance(reply, dict) else [reply]
    out: list[OutputBufferReport] = []
    for text in texts:
        out.extend(parse_client_list(text.decode() if isinstance(text, bytes) else str(text)))
    return out
