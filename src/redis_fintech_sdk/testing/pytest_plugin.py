"""pytest plugin of redis_fintech_sdk: fixtures that run real, private redis-servers.

Loaded automatically (``pytest11`` entry point) when redis-fintech-sdk is installed. It
defines fixtures only - no hooks, no options, nothing started at import time:

* ``redis_server_factory`` (function scope): call it with :class:`RedisServer` arguments to
  get a started server; every server it made is stopped when the test ends.
* ``embedded_redis`` (session scope): one plain standalone server shared by the session.

Example::

    def test_orders(redis_server_factory):
        server = redis_server_factory(password="s3cret", appendonly=True)
        with server.client() as client:
            client.set("orders:1", "new")
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any, Protocol

import pytest

from redis_fintech_sdk.testing.binaries import RedisBinary
from redis_fintech_sdk.testing.server import RedisServer

__all__ = ["RedisServerFactory", "embedded_redis", "redis_server_factory"]


class RedisServerFactory(Protocol):
    """The type of the ``redis_server_factory`` fixture (for annotating tests)."""

    def __call__(
        self, binary: RedisBinary | str | os.PathLike[str] | None = None, /, **options: Any
    ) -> RedisServer:
        """Start a :class:`RedisServer` with ``options`` and return it (already running)."""
        ...


@pytest.fixture
def redis_server_factory() -> Iterator[RedisServerFactory]:
    """Start redis-servers on demand; all of them are stopped at the end of the test.

    Yields:
        a callable taking the arguments of :class:`RedisServer` and returning a started
        server.
    """
    started: list[RedisServer] = []

    def factory(
        binary: RedisBinary | str | os.PathLike[str] | None = None, /, **options: Any
    ) -> RedisServer:
        server = RedisServer(binary, **options)
        started.append(server)
        return server.start()

    try:
        yield factory
    finally:
        for server in reversed(started):
            server.stop()


@pytest.fixture(scope="session")
def embedded_redis() -> Iterator[RedisServer]:
    """A plain standalone redis-server shared by the whole test session.

    Uses ``$RFSDK_REDIS_SERVER`` or ``redis-server`` on ``PATH`` (see
    :func:`~redis_fintech_sdk.testing.find_redis_server`). Tests sharing it should use
    their own keys (or ``FLUSHALL`` in their own fixture).

    Yields:
        the running :class:`RedisServer`.
    """
    with RedisServer() as server:
        yield server
