from __future__ import annotations

import ssl

import pytest
import redis.exceptions as rexc

from redis_fintech_sdk import errors
from redis_fintech_sdk.connection import map_redis_error
from redis_fintech_sdk.errors import redact


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (
            rexc.NoPermissionError("NOPERM No permissions to access a channel"),
            errors.AuthorizationError,
        ),
        (rexc.ResponseError("NOPERM this user has no permissions"), errors.AuthorizationError),
        (
            rexc.AuthenticationError("WRONGPASS invalid username-password pair"),
            errors.AuthenticationError,
        ),
        (
            rexc.ReadOnlyError("READONLY You can't write against a read only replica."),
            errors.ReadOnlyError,
        ),
        (rexc.OutOfMemoryError("OOM command not allowed"), errors.BackpressureError),
        (rexc.ClusterDownError("CLUSTERDOWN"), errors.ClusterError),
        (rexc.TimeoutError("Timeout reading from socket"), errors.RedisTimeoutError),
        (
            rexc.ConnectionError("Error 111 connecting to 127.0.0.1:1. Connection refused."),
            errors.ConnectionFailedError,
        ),
        (ssl.SSLError(1, "[SSL: CERTIFICATE_VERIFY_FAILED]"), errors.TLSError),
        (ConnectionResetError(104, "Connection reset by peer"), errors.ConnectionFailedError),
        (rexc.ResponseError("WRONGTYPE Operation against a key"), errors.ResponseError),
        (rexc.DataError("bad"), errors.RedisError),
    ],
)
def test_most_specific_mapping(exc: Exception, expected: type[Exception]) -> None:
    mapped = map_redis_error(exc, address="127.0.0.1:6379", command="SET")
    assert type(mapped) is expected
    assert isinstance(mapped, errors.SDKError)
    assert "127.0.0.1:6379" in str(mapped)


def test_tls_failure_found_in_cause_chain() -> None:
    outer = rexc.ConnectionError("Error connecting")
    outer.__cause__ = ssl.SSLError(1, "[SSL: TLSV13_ALERT_CERTIFICATE_REQUIRED]")
    assert isinstance(map_redis_error(outer), errors.TLSError)


def test_server_text_is_not_echoed() -> None:
    # A server error reply may quote arguments; our message must not carry them.
    exc = rexc.ResponseError("ERR wrong arg 'supersecretpayload'")
    mapped = map_redis_error(exc, command="SET")
    assert "supersecretpayload" not in str(mapped)


def test_authorization_error_names_channel_and_builtin() -> None:
    mapped = map_redis_error(rexc.NoPermissionError("NOPERM"), channel="market.price.AAPL")
    assert isinstance(mapped, errors.AuthorizationError)
    assert isinstance(mapped, PermissionError)
    assert mapped.channel == "market.price.AAPL"
    assert "market.price.AAPL" in str(mapped)


def test_sdk_errors_pass_through() -> None:
    e = errors.BackpressureError("full")
    assert map_redis_error(e) is e


def test_codec_errors_are_value_errors() -> None:
    assert issubclass(errors.UnknownKeyError, errors.DecryptionError)
    assert issubclass(errors.DecryptionError, errors.CodecError)
    assert issubclass(errors.CodecError, ValueError)
    err = errors.UnknownKeyError(7)
    assert err.key_id == 7
    assert "7" in str(err)


def test_redact() -> None:
    text = redact("rediss://svc:hunter2@h:6379/0 password=abc api_key: zzz")
    assert "hunter2" not in text
    assert "abc" not in text
    assert "zzz" not in text
