"""Fixtures of the Streams integration tests: an SDK client per test, unique stream names."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Iterator

import pytest

from redis_fintech_sdk.codec import Codec
from redis_fintech_sdk.connection import AsyncClient, Client
from redis_fintech_sdk.settings import Timeouts
from redis_fintech_sdk.testing import RedisServer

_counter = itertools.count()


@pytest.fixture
def stream_name(request: pytest.FixtureRequest) -> str:
    return f"t:{request.node.name[:40]}:{next(_counter)}"


@pytest.fixture(scope="session")
def codec() -> Codec:
    return Codec()


def timeouts() -> Timeouts:
    return Timeouts(connect=2.0, command=2.0, max_block=5.0)


@pytest.fixture
async def aclient(redis_server: RedisServer) -> AsyncIterator[AsyncClient]:
    async with AsyncClient.from_url(redis_server.url, timeouts=timeouts()) as client:
        yield client


@pytest.fixture
def sclient(redis_server: RedisServer) -> Iterator[Client]:
    with Client.from_url(redis_server.url, timeouts=timeouts()) as client:
        yield client
