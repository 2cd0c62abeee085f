"""Plain ASGI 3 plumbing: types, request parsing, JSON responses, bearer tokens (no framework)."""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import parse_qs

from ._messages import dumps

__all__ = [
    "ASGIApp",
    "HttpError",
    "Receive",
    "Scope",
    "Send",
    "bearer_token",
    "client_host",
    "error_body",
    "header",
    "query",
    "read_body",
    "retry_after_seconds",
    "send_bytes",
    "send_error",
    "send_json",
]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

_SECURITY_HEADERS = [
    (b"cache-control", b"no-store"),
    (b"x-content-type-options", b"nosniff"),
]


class HttpError(Exception):
    """An HTTP error answered as ``{"error": code, "detail": text}`` (never a token).

    Args:
        status: the HTTP status.
        code: a short machine-readable code (``unauthorized``, ``rate_limited`` …).
        detail: text for humans (never a token or payload).
        allow: the ``Allow`` header of a 405.
        retry_after: seconds for the ``Retry-After`` header (rounded up, at least 1).
    """

    def __init__(
        self,
        status: int,
        code: str,
        detail: str,
        *,
        allow: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.code = code
        self.detail = detail
        self.allow = allow
        self.retry_after = retry_after

    def headers(self) -> list[tuple[bytes, bytes]]:
        """``WWW-Authenticate`` (401), ``Allow`` and ``Retry-After``, as due."""
        extra: list[tuple[bytes, bytes]] = []
        if self.status == 401:
            extra.append((b"www-authenticate", b'Bearer realm="rfsdk-gateway"'))
        if self.allow is not None:
            extra.append((b"allow", self.allow.encode()))
        if self.retry_after is not None:
            extra.append((b"retry-after", str(retry_after_seconds(self.retry_after)).encode()))
        return extra


def retry_after_seconds(seconds: float) -> int:
    """A ``Retry-After`` value: whole seconds, rounded up, at least 1."""
    return max(1, math.ceil(seconds))


def header(scope: Scope, name: bytes) -> str | None:
    """The first value of a request header (``name`` in lower case), as latin-1 text."""
    for key, value in scope.get("headers", ()):
        if key.lower() == name:
            return bytes(value).decode("latin-1")
    return None


def query(scope: Scope) -> dict[str, list[str]]:
    """The query string, parsed."""
    raw = scope.get("query_string", b"")
    return parse_qs(bytes(raw).decode("latin-1"), keep_blank_values=True)


def bearer_token(scope: Scope, *, allow_query: bool = False) -> str | None:
    """The token of ``Authorization: Bearer <token>`` (or ``?token=`` when ``allow_query``)."""
    auth = header(scope, b"authorization")
    if auth is not None:
        scheme, _, value = auth.strip().partition(" ")
        return value.strip() or None if scheme.lower() == "bearer" else None
    if allow_query:
        values = query(scope).get("token")
        return values[0] if values else None
    return None


async def read_body(receive: Receive, limit: int) -> bytes:
    """Read a whole request body.

    Raises:
        HttpError: 413 past ``limit`` bytes.
    """
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise HttpError(413, "too_large", f"request body over {limit} bytes")
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


async def send_bytes(
    send: Send,
    status: int,
    body: bytes,
    content_type: bytes,
    extra: list[tuple[bytes, bytes]] | None = None,
) -> None:
    """Send a complete response."""
    headers = [
        (b"content-type", content_type),
        (b"content-length", str(len(body)).encode()),
        *_SECURITY_HEADERS,
        *(extra or []),
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def send_json(
    send: Send, status: int, obj: Any, extra: list[tuple[bytes, bytes]] | None = None
) -> None:
    """Send a JSON response."""
    await send_bytes(send, status, dumps(obj).encode(), b"application/json", extra)


async def send_error(send: Send, exc: HttpError) -> None:
    """Send an :class:`HttpError` as JSON, with the headers of :meth:`HttpError.headers`."""
    await send_json(send, exc.status, error_body(exc), exc.headers())


def error_body(exc: HttpError) -> dict[str, Any]:
    """The JSON body of an error response."""
    return {"error": exc.code, "detail": exc.detail}


def client_host(scope: Scope) -> str:
    """The peer address of a request (as the server reports it), or ``unknown``."""
    client = scope.get("client")
    if client:
        return str(client[0])
    return "unknown"
