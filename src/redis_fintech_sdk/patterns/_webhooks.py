"""WebhookDispatcher: signed JSON posts, retries, a breaker per endpoint, dead letters.

Each event is posted as ``{"id", "type", "created", "data"}`` with the headers
``Content-Type: application/json``, ``Idempotency-Key`` / ``Rfsdk-Event-Id`` (the same on
every retry, so the receiver can drop repeats), ``Rfsdk-Event-Type`` and
``Rfsdk-Signature`` (see :mod:`._webhook_signing`; re-signed with a fresh timestamp on each
attempt). 2xx is delivered. 408, 425, 429, 5xx and transport errors are retried with the
:class:`~redis_fintech_sdk.resilience.RetryPolicy` (a ``Retry-After`` is honoured up to
``max_retry_after``); any other status is final. Every attempt passes the endpoint's
:class:`~redis_fintech_sdk.resilience.CircuitBreaker`; while it is open, events are
dead-lettered without a request.
"""

from __future__ import annotations

import datetime as dt
import decimal
import enum
import json
import time
from collections.abc import Awaitable, Callable
from typing import Any

import anyio
from pydantic import BaseModel

from redis_fintech_sdk._version import __version__
from redis_fintech_sdk.codec import Timestamp
from redis_fintech_sdk.connection import AsyncClient
from redis_fintech_sdk.errors import CircuitOpenError, CodecError, ConfigurationError
from redis_fintech_sdk.resilience import CircuitBreaker, CircuitState

from ._webhook_signing import SIGNATURE_HEADER, sign_webhook
from ._webhook_transport import HttpResponse, HttpTransport, UrllibTransport
from ._webhook_values import (
    RETRY_STATUSES,
    WebhookConfig,
    WebhookDeadLetter,
    WebhookEndpoint,
    WebhookResult,
    WebhookStatistics,
)

__all__ = ["WebhookDispatcher"]


class _AttemptFailed(Exception):
    """Marks a failed attempt for the breaker (never raised to callers)."""


def _json_default(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, Timestamp):
        return value.isoformat()
    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat()
    if isinstance(value, enum.Enum):
        return value.value
    raise TypeError(type(value).__name__)


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class WebhookDispatcher:
    """Posts signed events to webhook endpoints; see the module docs.

    Args:
        client: the SDK client (for the dead-letter stream).
        transport: the HTTP transport (default :class:`UrllibTransport`).
        config: retries, breaker and dead letters.
        clock: epoch seconds, for signature timestamps (injectable for tests).
        sleep: awaited between attempts (injectable for tests).
    """

    def __init__(
        self,
        client: AsyncClient,
        *,
        transport: HttpTransport | None = None,
        config: WebhookConfig | None = None,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[None]] = anyio.sleep,
    ) -> None:
        self._client = client
        self.transport: HttpTransport = transport if transport is not None else UrllibTransport()
        self.config = config or WebhookConfig()
        self._clock = clock
        self._sleep = sleep
        self._breakers: dict[str, CircuitBreaker] = {}
        self._delivered = 0
        self._dead_lettered = 0
        self._requests = 0

    def breaker(self, endpoint: WebhookEndpoint | str) -> CircuitBreaker:
        """The circuit breaker of one endpoint (created on first use)."""
        name = endpoint if isinstance(endpoint, str) else endpoint.name
        breaker = self._breakers.get(name)
        if breaker is None:
            breaker = self._breakers[name] = CircuitBreaker(
                f"webhook:{name}",
                self.config.breaker,
                failure_exceptions=(_AttemptFailed,),
                ignored_exceptions=(),
            )
        return breaker

    def statistics(self) -> WebhookStatistics:
        """Counters since creation."""
        return WebhookStatistics(
            delivered=self._delivered,
            dead_lettered=self._dead_lettered,
            attempts=self._requests,
            open_breakers=tuple(
                sorted(n for n, b in self._breakers.items() if b.state is not CircuitState.CLOSED)
            ),
        )

    def encode(self, data: Any, *, event_type: str, event_id: str) -> bytes:
        """The JSON body of one event.

        Raises:
            CodecError: ``data`` holds a value JSON cannot represent.
        """
        if isinstance(data, BaseModel):
            data = data.model_dump(mode="json")
        doc = {"id": event_id, "type": event_type, "created": int(self._clock()), "data": data}
        try:
            text = json.dumps(
                doc,
                default=_json_default,
                separators=(",", ":"),
                ensure_ascii=False,
                allow_nan=False,
            )
        except (TypeError, ValueError) as exc:
            raise CodecError(f"webhook {event_id}: data is not JSON ({exc})") from None
        return text.encode()

    async def post(
        self,
        endpoint: WebhookEndpoint,
        data: Any,
        *,
        event_type: str,
        event_id: str,
    ) -> WebhookResult:
        """Deliver one event, retrying; dead-letter it after the last failed attempt.

        Delivery failures do not raise: they are in the result.

        Args:
            endpoint: the receiver.
            data: a JSON-ready mapping or a pydantic model (``Message``).
            event_type: the event's type, e.g. ``"notification"``.
            event_id: the event's id; the receiver deduplicates on it.

        Raises:
            CodecError: ``data`` cannot be encoded as JSON.
            RedisError: the dead letter could not be written.
        """
        body = self.encode(data, event_type=event_type, event_id=event_id)
        result = await self._attempts(endpoint, body, event_type=event_type, event_id=event_id)
        if result.delivered:
            self._delivered += 1
            return result
        entry = await self._dead_letter(endpoint, body, event_type, result)
        self._dead_lettered += 1
        return WebhookResult(
            result.endpoint, event_id, False, result.attempts, result.status, result.reason, entry
        )

    async def _attempts(
        self, endpoint: WebhookEndpoint, body: bytes, *, event_type: str, event_id: str
    ) -> WebhookResult:
        breaker = self.breaker(endpoint)
        delays = iter(self.config.retry.delays())
        attempts = 0
        status: int | None = None
        reason: str | None = None
        try:
            while True:
                try:
                    permit = breaker.acquire()
                except CircuitOpenError:
                    reason = "circuit_open"
                    break
                attempts += 1
                self._requests += 1
                response: HttpResponse | None = None
                try:
                    response = await self.transport.post(
                        endpoint.url,
                        body,
                        self._headers(endpoint, body, event_type, event_id),
                        timeout=endpoint.timeout,
                    )
                except OSError as exc:  # TimeoutError is an OSError
                    breaker.release(permit, _AttemptFailed())
                    status, reason, retryable = None, f"transport:{type(exc).__name__}", True
                except BaseException as exc:
                    breaker.release(permit, exc)
                    raise
                else:
                    status = response.status
                    if 200 <= status < 300:
                        breaker.release(permit, None)
                        return WebhookResult(endpoint.name, event_id, True, attempts, status)
                    retryable = status in RETRY_STATUSES or status >= 500
                    # A final 4xx proves the endpoint is up: not a failure for the breaker.
                    breaker.release(permit, _AttemptFailed() if retryable else None)
                    reason = f"http_{status}"
                delay = next(delays, None) if retryable else None
                if delay is None:
                    break
                if response is not None and response.retry_after is not None:
                    delay = max(delay, min(response.retry_after, self.config.max_retry_after))
                await self._sleep(delay)
        except anyio.get_cancelled_exc_class():
            with anyio.CancelScope(shield=True), anyio.move_on_after(5):
                result = WebhookResult(
                    endpoint.name, event_id, False, attempts, status, "cancelled"
                )
                await self._dead_letter(endpoint, body, event_type, result)
            raise
        return WebhookResult(endpoint.name, event_id, False, attempts, status, reason)

    def _headers(
        self, endpoint: WebhookEndpoint, body: bytes, event_type: str, event_id: str
    ) -> dict[str, str]:
        return {
            **endpoint.headers,
            "Content-Type": "application/json",
            "User-Agent": f"redis-fintech-sdk/{__version__}",
            "Idempotency-Key": event_id,
            "Rfsdk-Event-Id": event_id,
            "Rfsdk-Event-Type": event_type,
            SIGNATURE_HEADER: sign_webhook(body, endpoint.keys, timestamp=int(self._clock())),
        }

    async def _dead_letter(
        self, endpoint: WebhookEndpoint, body: bytes, event_type: str, result: WebhookResult
    ) -> str:
        fields: dict[Any, Any] = {
            "endpoint": endpoint.name,
            "url": endpoint.display_url,
            "event_id": result.event_id,
            "event_type": event_type,
            "attempts": str(result.attempts),
            "status": "" if result.status is None else str(result.status),
            "reason": result.reason or "",
            "failed_at": str(int(self._clock() * 1000)),
        }
        if self.config.store_body:
            fields["body"] = body
        key = self.config.dead_letters
        with self._client.translate_errors("XADD", key=key):
            entry = await self._client.redis.xadd(
                key, fields, maxlen=self.config.dead_letter_maxlen, approximate=True
            )
        return _text(entry)

    async def dead_letters(self, count: int = 100) -> list[WebhookDeadLetter]:
        """The oldest ``count`` dead letters.

        Raises:
            RedisError: Redis could not be reached.
        """
        key = self.config.dead_letters
        with self._client.translate_errors("XRANGE", key=key):
            entries = await self._client.redis.xrange(key, count=count)
        out: list[WebhookDeadLetter] = []
        for entry_id, raw in entries or []:
            f = {_text(k): v for k, v in (raw or {}).items()}
            status = _text(f.get("status", b""))
            body = f.get("body")
            out.append(
                WebhookDeadLetter(
                    entry_id=_text(entry_id),
                    endpoint=_text(f.get("endpoint", b"")),
                    url=_text(f.get("url", b"")),
                    event_id=_text(f.get("event_id", b"")),
                    event_type=_text(f.get("event_type", b"")),
                    attempts=int(_text(f.get("attempts", b"0"))),
                    status=int(status) if status else None,
                    reason=_text(f.get("reason", b"")),
                    failed_at=int(_text(f.get("failed_at", b"0"))) / 1000,
                    body=body if isinstance(body, bytes) else None,
                )
            )
        return out

    async def redeliver(
        self, letter: WebhookDeadLetter, endpoint: WebhookEndpoint
    ) -> WebhookResult:
        """Post a dead letter's stored body again (same event id); remove it when delivered.

        A failed redelivery leaves the dead letter where it is and writes no new one.

        Raises:
            ConfigurationError: the dead letter has no body (``store_body`` was off).
            RedisError: Redis could not be reached.
        """
        if letter.body is None:
            raise ConfigurationError("store_body", "this dead letter was stored without a body")
        result = await self._attempts(
            endpoint, letter.body, event_type=letter.event_type, event_id=letter.event_id
        )
        if result.delivered:
            key = self.config.dead_letters
            with self._client.translate_errors("XDEL", key=key):
                await self._client.redis.xdel(key, letter.entry_id)
            self._delivered += 1
        return result
