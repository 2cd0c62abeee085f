from __future__ import annotations

import pytest

from redis_fintech_sdk.connection import AsyncClient
from redis_fintech_sdk.gateway import GatewayApp, GatewayConfig, create_app

from .gw_tokens import VERIFIER


@pytest.fixture
def app() -> GatewayApp:
    # Never started and never connected: every test here stays before any Redis I/O.
    client = AsyncClient.from_url("redis://127.0.0.1:1/0")
    return create_app(client, tokens=VERIFIER, config=GatewayConfig(heartbeat_interval=0.2))
