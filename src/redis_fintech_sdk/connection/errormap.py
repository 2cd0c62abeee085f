"""Translation of foreign exceptions (redis-py, ``ssl``, ``OSError``) into SDK errors.

The one place that knows redis-py's exception classes: most specific match first, and the
produced message never echoes server text that could quote arguments (passwords, payloads).
"""

from __future__ import annotations

import builtins
import ssl
from typing import Any

import redis.exceptions as rexc

from redis_fintech_sdk.errors import (
    AuthenticationError,
    AuthorizationError,
    BackpressureError,
    ClusterError,
    ConnectionFailedError,
    DurabilityError,
    ReadOnlyError,
    RedisError,
    RedisTimeoutError,
    ResponseError,
    SDKError,
    TLSError,
)

__all__ = ["is_connection_failure", "map_redis_error"]

# Server error replies can echo arguments back; keep only the error code and a fixed text so
# that passwords, keys and payload bytes never leak into our messages.
_SAFE_PREFIXES = (
    "NOPERM",
    "WRONGPASS",
    "NOAUTH",
    "OOM",
    "READONLY",
    "NOGROUP",
    "BUSYGROUP",
    "LOADING",
    "MASTERDOWN",
    "CLUSTERDOWN",
    "TRYAGAIN",
    "NOSCRIPT",
    "BUSY",
    "WRONGTYPE",
    "EXECABORT",
    "MOVED",
    "ASK",
)


def _server_code(exc: BaseException) -> str:
    text = str(exc).strip()
    head = text.split(" ", 1)[0].upper() if text else ""
    return head if head in _SAFE_PREFIXES else ""


def _nopermission_subject(text: str) -> dict[str, Any]:
    # redis: "NOPERM No permissions to access a channel" / "... a key" / "User x has no
    # permissions to run the 'cmd' command". The server never echoes the channel name, so the
    # caller passes it in; here we only tell which kind of object was refused.
    lowered = text.lower()
    if "channel" in lowered:
        return {"kind": "channel"}
    if "key" in lowered:
        return {"kind": "key"}
    return {"kind": "command"}


def map_redis_error(
    exc: BaseException,
    *,
    address: str | None = None,
    command: str | None = None,
    channel: str | None = None,
    key: str | None = None,
) -> SDKError:
    """Translate a redis-py / ssl / OS exception into the matching :class:`SDKError`.

    The caller raises the result ``from exc``. Already-translated errors come back unchanged.
    The produced message never contains argument values from the failed command.

    Args:
        exc: the foreign exception.
        address: ``host:port`` of the server, added to the message.
        command: the command name (no arguments).
        channel: the channel involved, for authorization errors.
        key: the key involved, for authorization errors.
    """
    if isinstance(exc, SDKError):
        return exc
    ctx: dict[str, Any] = {"address": address, "command": command}
    code = _server_code(exc)
    # Order matters: the most specific classes first (AuthenticationError subclasses
    # ConnectionError in redis-py, NoPermissionError subclasses ResponseError, ...).
    if isinstance(exc, rexc.NoPermissionError) or code == "NOPERM":
        what = _nopermission_subject(str(exc))["kind"]
        return AuthorizationError(
            f"NOPERM: not allowed to access this {what}", channel=channel, key=key, **ctx
        )
    if isinstance(exc, rexc.AuthenticationWrongNumberOfArgsError):
        return AuthenticationError("server does not support username authentication", **ctx)
    if isinstance(exc, rexc.AuthenticationError) or code in ("WRONGPASS", "NOAUTH"):
        return AuthenticationError(
            "authentication failed (wrong username/password or user disabled)", **ctx
        )
    if isinstance(exc, rexc.ReadOnlyError) or code == "READONLY":
        return ReadOnlyError("write sent to a read-only replica", **ctx)
    if isinstance(exc, rexc.OutOfMemoryError) or code == "OOM":
        return BackpressureError("server is out of memory (maxmemory reached)", **ctx)
    if isinstance(exc, (rexc.ClusterDownError, rexc.ClusterError, rexc.MovedError, rexc.AskError)):
        return ClusterError(f"cluster error: {type(exc).__name__}", **ctx)
    if isinstance(exc, ssl.SSLError) or _is_tls_failure(exc):
        return TLSError("TLS handshake failed", **ctx)
    if isinstance(exc, (rexc.TimeoutError, builtins.TimeoutError)):
        return RedisTimeoutError("timed out waiting for the server", **ctx)
    if isinstance(exc, (rexc.ConnectionError, OSError, EOFError)):
        return ConnectionFailedError(f"connection failed: {_os_reason(exc)}", **ctx)
    if isinstance(exc, rexc.ResponseError):
        reason = code or "ERR"
        return ResponseError(f"server replied with an error: {reason}", **ctx)
    if isinstance(exc, rexc.RedisError):
        return RedisError(f"redis client error: {type(exc).__name__}", **ctx)
    return RedisError(f"unexpected error: {type(exc).__name__}", **ctx)


def is_connection_failure(exc: BaseException) -> bool:
    """Whether ``exc`` means the SDK could not reach, or lost, the server.

    Yes for refused, reset or closed connections, DNS and TLS handshake failures,
    authentication refused at connect time, and timeouts waiting for the server (a silent
    or half-open connection). No for error replies (``NOPERM``, ``OOM``, ``READONLY`` …),
    which come over a working connection, and for :class:`DurabilityError` (``WAIT``
    answered). Foreign exceptions are judged by what :func:`map_redis_error` makes of them.
    This decides what ``connection_errors_total`` counts.

    Args:
        exc: an SDK error or a redis-py / ``ssl`` / OS exception.
    """
    error = exc if isinstance(exc, SDKError) else map_redis_error(exc)
    if isinstance(error, DurabilityError):
        return False
    return isinstance(error, (ConnectionFailedError, RedisTimeoutError, AuthenticationError))


def _is_tls_failure(exc: BaseException) -> bool:
    seen: set[int] = set()
    cur: BaseException | None = exc
    while cur is not None and id(cur) not in seen:
        seen.add(id(cur))
        if isinstance(cur, ssl.SSLError):
            return True
        text = str(cur)
        if "SSL" in text and ("CERTIFICATE" in text.upper() or "handshake" in text.lower()):
            return True
        cur = cur.__cause__ or cur.__context__
    return False


def _os_reason(exc: BaseException) -> str:
    text = str(exc).lower()
    for needle, reason in (
        ("refused", "connection refused"),
        ("reset", "connection reset"),
        ("closed", "connection closed by server"),
        ("name or service", "host name not resolved"),
        ("no such file", "socket path not found"),
        ("unreachable", "network unreachable"),
        ("timed out", "timed out"),
    ):
        if needle in text:
            return reason
    return type(exc).__name__
