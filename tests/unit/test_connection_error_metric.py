"""``connection_errors_total``: what counts as a connection failure, and who counts it (once)."""

from __future__ import annotations

import ssl

import pytest
import redis.exceptions as rexc

from redis_fintech_sdk.connection import AsyncClient, Client, is_connection_failure
from redis_fintech_sdk.errors import (
    AuthenticationError,
    AuthorizationError,
    BackpressureError,
    ConnectionFailedError,
    DurabilityError,
    ReadOnlyError,
    RedisTimeoutError,
    ResponseError,
    TLSError,
)
from redis_fintech_sdk.hooks import NoopMetrics
from redis_fintech_sdk.observability import InMemoryMetrics

URL = "redis://127.0.0.1:6390"  # never dialled: translate_errors needs no connection


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (ConnectionFailedError("refused"), True),
        (TLSError("handshake"), True),
        (RedisTimeoutError("deadline"), True),
        (AuthenticationError("wrongpass"), True),
        (DurabilityError("1 of 2 replicas"), False),
        (AuthorizationError("NOPERM"), False),
        (ResponseError("ERR"), False),
        (BackpressureError("OOM"), False),
        (ReadOnlyError("replica"), False),
        # Foreign exceptions are judged by their translation.
        (rexc.ConnectionError("Connection reset by peer"), True),
        (ConnectionRefusedError(111, "Connection refused"), True),
        (TimeoutError(), True),
        (rexc.TimeoutError("Timeout reading from socket"), True),
        (ssl.SSLError("certificate verify failed"), True),
        (rexc.AuthenticationError("invalid username-password pair"), True),
        (rexc.ResponseError("WRONGTYPE Operation against a key"), False),
        (rexc.NoPermissionError("NOPERM this user has no permissions"), False),
        (ValueError("a bug"), False),
    ],
)
def test_is_connection_failure(exc: BaseException, expected: bool) -> None:
    assert is_connection_failure(exc) is expected


@pytest.mark.parametrize("client_class", [AsyncClient, Client])
def test_translate_errors_counts_a_translated_connection_failure_once(
    client_class: type[AsyncClient] | type[Client],
) -> None:
    metrics = InMemoryMetrics()
    client = client_class.from_url(URL, metrics=metrics)
    assert client.metrics is metrics
    # Nested blocks (a helper that translates inside a caller that translates): the inner
    # one translates and counts, the outer one sees an SDK error and passes it on.
    with (
        pytest.raises(ConnectionFailedError),
        client.translate_errors("GET"),
        client.translate_errors("GET"),
    ):
        raise rexc.ConnectionError("Connection reset by peer")
    assert metrics.value("connection_errors_total", component="client") == 1
    assert metrics.total("connection_errors_total") == 1


@pytest.mark.parametrize("client_class", [AsyncClient, Client])
def test_error_replies_are_not_connection_failures(
    client_class: type[AsyncClient] | type[Client],
) -> None:
    metrics = InMemoryMetrics()
    client = client_class.from_url(URL, metrics=metrics)
    with pytest.raises(ResponseError), client.translate_errors("INCR"):
        raise rexc.ResponseError("WRONGTYPE Operation against a key holding the wrong kind")
    with pytest.raises(AuthorizationError), client.translate_errors("GET"):
        raise rexc.NoPermissionError("NOPERM this user has no permissions to access a key")
    assert metrics.total("connection_errors_total") == 0


def test_the_callers_hook_and_component_win_over_the_clients() -> None:
    own, shared = InMemoryMetrics(), InMemoryMetrics()
    client = AsyncClient.from_url(URL, metrics=shared)
    with (
        pytest.raises(RedisTimeoutError),
        client.translate_errors("PUBLISH", component="publisher", metrics=own),
    ):
        raise rexc.TimeoutError("Timeout reading from socket")
    assert own.value("connection_errors_total", component="publisher") == 1
    assert shared.total("connection_errors_total") == 0
    # A caller without a hook of its own (or with a no-op one) falls back to the client's.
    with (
        pytest.raises(ConnectionFailedError),
        client.translate_errors("PUBLISH", component="publisher", metrics=NoopMetrics()),
    ):
        raise OSError("Connection refused")
    assert shared.value("connection_errors_total", component="publisher") == 1
    assert own.value("connection_errors_total", component="publisher") == 1


def test_without_any_hook_nothing_is_counted_and_the_error_is_unchanged() -> None:
    client = Client.from_url(URL)
    assert client.metrics is None
    with pytest.raises(ConnectionFailedError) as info, client.translate_errors("PING"):
        raise rexc.ConnectionError("Error 111 connecting. Connection refused.")
    assert "connection refused" in str(info.value)
    client.count_connection_error()  # no hook: a no-op, never an error
