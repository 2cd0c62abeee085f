"""The HTTP transport of webhooks: a small protocol and a standard-library implementation.

No HTTP client is a dependency of the SDK, so :class:`UrllibTransport` runs
:mod:`urllib.request` in a worker thread. It never follows redirects (a webhook that is
redirected is a configuration error, and following one could send a signed body somewhere
unintended) and it reads at most ``max_response_bytes`` of the answer. Pass any object with
the same ``post`` coroutine to use httpx, aiohttp or a test double instead.
"""

from __future__ import annotations

import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from email.message import Message as HeaderMap
from typing import Protocol, runtime_checkable

import anyio.to_thread

__all__ = ["HttpResponse", "HttpTransport", "UrllibTransport"]


@dataclass(frozen=True)
class HttpResponse:
    """What a transport got back.

    Attributes:
        status: the HTTP status code.
        retry_after: seconds from a ``Retry-After`` header (delta-seconds form only).
    """

    status: int
    retry_after: float | None = None


@runtime_checkable
class HttpTransport(Protocol):
    """Posts one request; raises ``OSError`` / ``TimeoutError`` when no response came."""

    async def post(
        self,
        url: str,
        body: bytes,
        headers: Mapping[str, str],
        *,
        timeout: float,  # noqa: ASYNC109 - passed to the HTTP client, which owns the deadline
    ) -> HttpResponse:
        """POST ``body`` to ``url`` and return the status (any status, 4xx/5xx included).

        Raises:
            OSError: the connection failed (refused, reset, DNS, TLS).
            TimeoutError: no response within ``timeout``.
        """
        ...


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None  # urllib then raises HTTPError with the 3xx status


def _retry_after(headers: HeaderMap | None) -> float | None:
    value = headers.get("Retry-After") if headers is not None else None
    if value is None:
        return None
    try:
        seconds = float(value)
    except ValueError:
        return None  # the HTTP-date form is not worth a date parser here
    return seconds if seconds >= 0 else None


class UrllibTransport:
    """A transport on :mod:`urllib.request`, run in a worker thread.

    Args:
        trust_env: use the ``*_proxy`` environment variables (default ``True``, as httpx).
        max_response_bytes: most bytes of a response body read (and discarded).
    """

    def __init__(self, *, trust_env: bool = True, max_response_bytes: int = 64 * 1024) -> None:
        handlers: list[urllib.request.BaseHandler] = [_NoRedirect()]
        if not trust_env:
            handlers.append(urllib.request.ProxyHandler({}))
        self._opener = urllib.request.build_opener(*handlers)
        self._max = max_response_bytes

    def _post(
        self, url: str, body: bytes, headers: Mapping[str, str], timeout: float
    ) -> HttpResponse:
        # WebhookEndpoint admits only http(s) URLs, so no file:// or custom scheme gets here.
        request = urllib.request.Request(url, data=body, headers=dict(headers), method="POST")  # noqa: S310
        try:
            with self._opener.open(request, timeout=timeout) as response:
                response.read(self._max)
                return HttpResponse(response.status, _retry_after(response.headers))
        except urllib.error.HTTPError as exc:
            try:
                return HttpResponse(exc.code, _retry_after(exc.headers))
            finally:
                exc.close()
        except urllib.error.URLError as exc:
            reason = exc.reason
            if isinstance(reason, OSError):
                raise reason from None
            raise OSError(str(reason)) from None

    async def post(
        self,
        url: str,
        body: bytes,
        headers: Mapping[str, str],
        *,
        timeout: float,  # noqa: ASYNC109 - the socket timeout of the request
    ) -> HttpResponse:
        """POST in a worker thread (abandoned, not awaited, when the caller is cancelled).

        Raises:
            OSError: the connection failed.
            TimeoutError: no response within ``timeout``.
        """
        return await anyio.to_thread.run_sync(
            self._post, url, body, headers, timeout, abandon_on_cancel=True
        )
