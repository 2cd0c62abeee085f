"""Serve the HTTP gateway and read a Server-Sent Events stream from it.

Starts a private redis-server and the gateway under uvicorn on a free loopback port, opens
``GET /v1/stream`` with a scoped access token, publishes a few prices, prints the events, and
reads the gateway's counters from ``GET /metrics`` (Prometheus text) with an admin token.
Needs the ``gateway`` extra (uvicorn). In production run ``rfsdk gateway --url ...`` behind
a TLS-terminating proxy instead (docs/gateway.md).
"""

from __future__ import annotations

import asyncio
import json
import socket

import uvicorn

from redis_fintech_sdk.codec import Envelope
from redis_fintech_sdk.connection import AsyncClient
from redis_fintech_sdk.gateway import GatewayConfig, create_app
from redis_fintech_sdk.pubsub import AsyncPublisher
from redis_fintech_sdk.security import ChannelGrant, HmacKeySet, TokenIssuer, TokenVerifier
from redis_fintech_sdk.testing import RedisServer


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def main(url: str, prices: int = 5) -> None:
    keys = HmacKeySet.generate()
    issuer = TokenIssuer(hmac_keys=keys)
    token = issuer.issue("trader-7", [ChannelGrant.of("market.price.*", "subscribe")], ttl=300)
    admin = issuer.issue("ops", [ChannelGrant.of("rfsdk.gateway.admin", "read")], ttl=300)
    port = free_port()
    async with AsyncClient.from_url(url) as client:
        app = create_app(
            client, tokens=TokenVerifier(hmac_keys=keys), config=GatewayConfig(client_queue=100)
        )
        server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
        )
        serving = asyncio.create_task(server.serve())
        while not server.started:  # noqa: ASYNC110 - uvicorn exposes a flag, not an event
            await asyncio.sleep(0.02)
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(
            f"GET /v1/stream?channels=market.price.* HTTP/1.1\r\nHost: localhost\r\n"
            f"Authorization: Bearer {token}\r\n\r\n".encode()
        )
        await writer.drain()
        status = (await reader.readline()).decode().strip()
        print("stream:", status)
        while (await reader.readline()) not in (b"\r\n", b""):
            pass  # response headers
        async with AsyncPublisher(client) as pub:
            for i in range(prices):
                price = {"symbol": "AAPL", "px": 190.0 + i / 100}
                await pub.publish(Envelope(type="md.price", payload=price), "market.price.AAPL")
        seen = 0
        while seen < prices:
            line = (await asyncio.wait_for(reader.readline(), 5)).decode().strip()
            if line.startswith("id: "):
                print("  id  ", line[4:])
            elif line.startswith("data: "):
                event = json.loads(line[6:])
                print("  data", event["channel"], event["sequence"], event["payload"])
                seen += 1
        writer.close()
        await print_metrics(port, admin)
        server.should_exit = True
        await serving
    print(f"received {seen} prices over SSE")


async def print_metrics(port: int, admin_token: str) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(
        f"GET /metrics HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
        f"Authorization: Bearer {admin_token}\r\n\r\n".encode()
    )
    await writer.drain()
    text = (await asyncio.wait_for(reader.read(), 5)).decode()
    writer.close()
    for line in text.splitlines():
        if line.startswith(
            ("rfsdk_gateway_messages_fanned_out_total", "rfsdk_gateway_connections")
        ):
            print("  metric", line)


if __name__ == "__main__":
    with RedisServer() as redis:
        asyncio.run(main(redis.url))
