"""Connect with TLS + client certificate + an ACL user, check health and permissions.

Runs self-contained: it starts a private TLS redis-server with certificates made by trustme.
Point the ConnectionConfig at your own deployment to use it for real.

    python examples/tls_acl_connect.py
"""

from __future__ import annotations

import asyncio

from redis_fintech_sdk import (
    AsyncClient,
    ConnectionConfig,
    Credentials,
    Requirement,
    Secret,
    TLSConfig,
)
from redis_fintech_sdk.testing import RedisServer, TLSMaterial


async def main() -> None:
    with (
        TLSMaterial() as tls,
        RedisServer(
            tls=tls,
            acl_users=["user md-reader on >reader-pw +@connection +subscribe +get ~md:* &market.*"],
        ) as server,
    ):
        config = ConnectionConfig(
            host="localhost",
            port=server.port,
            tls=TLSConfig(
                ca_file=str(tls.ca_file),
                cert_file=str(tls.client_cert_file),
                key_file=str(tls.client_key_file),
                min_version="TLSv1.2",
            ),
            credentials=Credentials(username="md-reader", password=Secret("reader-pw")),
        )
        async with AsyncClient(config) as client:
            report = await client.health()
            print(f"reachable={report.reachable} latency={report.latency_ms} ms over mTLS")
            pre = await client.preflight(
                [Requirement.subscribe("market.price.AAPL"), Requirement.subscribe("orders.new")],
                raise_on_missing=False,
            )
            print("granted:", [r.describe() for r in pre.granted])
            print("missing:", pre.missing_descriptions())


if __name__ == "__main__":
    asyncio.run(main())
