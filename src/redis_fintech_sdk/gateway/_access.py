"""AccessGuard: every access decision of the gateway, its rate limits, counters and audit trail.

Each request that reaches a protected endpoint goes through the guard: authenticate (401),
rate-limit the principal (429), authorize channels or the admin scope (403). Refusals,
accepted connections and admin publishes are counted and, when the app has an audit sink,
recorded as ``token_refused``, ``rate_limited``, ``permission_denied``, ``access`` and
``published`` events. Events carry identifiers only: the token's subject, channel names, the
client address and a short reason — never the token, never a payload.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Literal

from redis_fintech_sdk.errors import RateLimitedError, SDKError
from redis_fintech_sdk.hooks import AuditSink, Limiter, active
from redis_fintech_sdk.security import Action, TokenClaims

from ._asgi import HttpError, retry_after_seconds
from ._auth import Authenticator

__all__ = ["AccessGuard", "AccessStatistics", "RateAction", "rate_subject"]

_log = logging.getLogger("redis_fintech_sdk.gateway")

RateAction = Literal["connect", "publish"]
"""What a gateway rate limit counts: client connections or admin publishes."""


def rate_subject(action: RateAction, claims: TokenClaims) -> str:
    """The limiter subject of a principal: ``<action>:<subject>`` (tenant-qualified).

    Keyed by the token's subject, not the token: every token of one principal shares the
    allowance, and the subject (unlike the token) is no secret.
    """
    who = claims.subject if claims.tenant is None else f"tenant:{claims.tenant}:{claims.subject}"
    return f"{action}:{who}"


@dataclass(frozen=True)
class AccessStatistics:
    """Counters of the gateway's access decisions.

    Attributes:
        connections: SSE and WebSocket connections accepted, by transport (``sse``, ``ws``).
        unauthorized: requests refused with 401 (missing or refused token).
        forbidden: requests (and WebSocket subscribe ops) refused with 403.
        rate_limited: requests refused with 429 by a rate limit, by action.
        admin_publishes: messages published through ``POST /v1/admin/publish``.
        audit_errors: audit events the sink failed to record (logged; never fatal).
    """

    connections: Mapping[str, int]
    unauthorized: int
    forbidden: int
    rate_limited: Mapping[str, int]
    admin_publishes: int
    audit_errors: int


class AccessGuard:
    """Authentication, authorization and rate limits of the gateway, counted and audited.

    Args:
        auth: verifies tokens and checks channels.
        audit: receives the access events (``None``: nothing is recorded).
        connect_limiter: ``acquire(rate_subject("connect", claims))`` before each SSE or
            WebSocket connection is accepted.
        publish_limiter: ``acquire(rate_subject("publish", claims))`` before each admin
            publish.
    """

    def __init__(
        self,
        auth: Authenticator,
        *,
        audit: AuditSink | None = None,
        connect_limiter: Limiter | None = None,
        publish_limiter: Limiter | None = None,
    ) -> None:
        self.auth = auth
        self.audit = active(audit)
        self._limiters: dict[RateAction, Limiter | None] = {
            "connect": active(connect_limiter),
            "publish": active(publish_limiter),
        }
        self._connections: Counter[str] = Counter()
        self._rate_limited: Counter[str] = Counter()
        self._unauthorized = self._forbidden = self._published = self._audit_errors = 0

    # ---------------------------------------------------------------- decisions

    async def authenticate(
        self, token: str | None, *, where: str, origin: str, channels: Iterable[str] = ()
    ) -> TokenClaims:
        """Verify a bearer token; a refusal is counted and audited (``token_refused``).

        Args:
            token: the presented token (never recorded).
            where: what was asked for (``sse``, ``ws``, ``GET /v1/metrics`` …).
            origin: the client address.
            channels: the channels asked for, recorded with a refusal.

        Raises:
            HttpError: 401.
        """
        try:
            return self.auth.authenticate(token)
        except HttpError as exc:
            self._unauthorized += 1
            await self._record(
                "token_refused",
                "anonymous",
                outcome="denied",
                channel=",".join(channels),
                reason=f"{where} from {origin}: {exc.detail}",
            )
            raise

    async def authorize(
        self, claims: TokenClaims, action: Action, names: Iterable[str], *, where: str
    ) -> None:
        """Check ``action`` on every name; a refusal is counted and audited.

        Raises:
            HttpError: 403 naming the first refused channel.
        """
        for name in names:
            try:
                self.auth.authorize(claims, action, [name])
            except HttpError as exc:
                self._forbidden += 1
                await self._record(
                    "permission_denied",
                    claims.subject,
                    outcome="denied",
                    channel=name,
                    reason=f"{where}: {exc.detail}",
                )
                raise

    async def require_admin(self, token: str | None, *, where: str, origin: str) -> TokenClaims:
        """Authenticate and require the admin scope; refusals are counted and audited.

        Raises:
            HttpError: 401 (no or bad token) or 403 (not an admin).
        """
        claims = await self.authenticate(token, where=where, origin=origin)
        if not self.auth.is_admin(claims):
            self._forbidden += 1
            await self._record(
                "permission_denied",
                claims.subject,
                outcome="denied",
                reason=f"{where} from {origin}: admin scope required",
            )
            raise HttpError(403, "forbidden", "admin scope required")
        return claims

    async def admit(self, action: RateAction, claims: TokenClaims, *, where: str) -> None:
        """Take one unit of the principal's ``action`` allowance (no limiter: always allowed).

        Raises:
            HttpError: 429 with ``retry_after`` (audited as ``rate_limited``), or 503 when
                the limiter itself fails (its Redis is unreachable).
        """
        limiter = self._limiters[action]
        if limiter is None:
            return
        try:
            await limiter.acquire(rate_subject(action, claims))
        except RateLimitedError as exc:
            self._rate_limited[action] += 1
            wait = retry_after_seconds(exc.retry_after)
            await self._record(
                "rate_limited",
                claims.subject,
                outcome="denied",
                reason=f"{where}: {action} limit, retry after {wait}s",
            )
            raise HttpError(
                429,
                "rate_limited",
                f"too many {action} requests; retry after {wait}s",
                retry_after=exc.retry_after,
            ) from None
        except SDKError as exc:
            raise HttpError(503, "rate_limiter_unavailable", type(exc).__name__) from None

    # ---------------------------------------------------------------- successes

    async def connected(
        self, claims: TokenClaims, transport: str, *, origin: str, channels: Iterable[str] = ()
    ) -> None:
        """Count an accepted connection and audit it (``access``)."""
        self._connections[transport] += 1
        await self._record(
            "access",
            claims.subject,
            channel=",".join(channels),
            reason=f"{transport} connected from {origin}",
        )

    async def published(self, claims: TokenClaims, channel: str, message_id: str) -> None:
        """Count an admin publish and audit it (``published``)."""
        self._published += 1
        await self._record(
            "published",
            claims.subject,
            channel=channel,
            message_id=message_id,
            reason="gateway admin publish",
        )

    # ---------------------------------------------------------------- plumbing

    async def _record(
        self,
        kind: str,
        actor: str,
        *,
        outcome: str = "success",
        channel: str = "",
        message_id: str = "",
        reason: str = "",
    ) -> None:
        if self.audit is None:
            return
        try:
            await self.audit.record(
                kind=kind,
                actor=actor,
                outcome=outcome,
                channel=channel[:256],
                message_id=message_id,
                reason=reason[:256],
            )
        except Exception as exc:  # auditing must never turn an answer into a 500
            self._audit_errors += 1
            _log.warning(
                "gateway audit sink failed (%s); %s not recorded", type(exc).__name__, kind
            )

    def statistics(self) -> AccessStatistics:
        """A snapshot of the counters."""
        return AccessStatistics(
            connections=dict(self._connections),
            unauthorized=self._unauthorized,
            forbidden=self._forbidden,
            rate_limited=dict(self._rate_limited),
            admin_publishes=self._published,
            audit_errors=self._audit_errors,
        )
