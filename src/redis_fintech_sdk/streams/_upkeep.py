"""Background upkeep of a stream consumer: lease renewal and lag reports.

A mixin of :class:`~redis_fintech_sdk.streams.StreamConsumer`; both loops run in the
consumer's service task group, so they keep going while in-flight handlers drain after a
stop, and end with the consumer.
"""

from __future__ import annotations

import logging
import time

import anyio

from redis_fintech_sdk.connection._async.client import AsyncClient
from redis_fintech_sdk.errors import AuthorizationError, RedisError
from redis_fintech_sdk.resilience import is_retryable
from redis_fintech_sdk.streams._async.admin import AsyncStreamAdmin
from redis_fintech_sdk.streams._config import ConsumerConfig
from redis_fintech_sdk.streams._consumer_hooks import ConsumerHooks
from redis_fintech_sdk.streams._errors import is_nogroup

__all__ = ["Upkeep"]

log = logging.getLogger("redis_fintech_sdk.streams")


class Upkeep:
    """Lease renewal and ``consumer_lag`` / ``consumer_pending`` reports."""

    _client: AsyncClient
    _admin: AsyncStreamAdmin
    stream: str
    config: ConsumerConfig
    _counts: dict[str, int]
    _hooks: ConsumerHooks | None
    _leased: dict[str, float]

    # ---------------------------------------------------------------- leases

    async def _renew_loop(self) -> None:
        """Every third of the visibility timeout, renew the entries whose handlers run.

        An entry held longer than ``max_lease`` is no longer renewed: a hung handler
        without ``handler_timeout`` then gives its entry up to the normal reclaim.
        """
        while True:
            await anyio.sleep(self.config.lease_interval)
            cutoff = time.monotonic() - self.config.max_lease
            ids = sorted(e for e, since in self._leased.items() if since > cutoff)
            if ids:
                await self._renew_leases(ids)

    async def _renew_leases(self, ids: list[str]) -> None:
        """``XCLAIM <stream> <group> <me> 0 <ids...> JUSTID``: reset their idle time.

        ``JUSTID`` leaves the delivery counters alone, so a renewal never looks like an
        attempt. Ids no longer pending (acknowledged meanwhile, or trimmed) are skipped by
        the server.

        Raises:
            RedisError: an error retrying cannot fix (e.g. ``NOPERM`` on ``XCLAIM``).
        """
        cfg = self.config
        try:
            with self._client.translate_errors("XCLAIM", key=self.stream):
                renewed = await self._client.redis.xclaim(
                    self.stream, cfg.group, cfg.consumer, 0, [*ids], justid=True
                )
        except RedisError as exc:
            if not (is_retryable(exc) or is_nogroup(exc)):
                raise
            # The next renewal (a third of the visibility timeout later) tries again.
            log.warning(
                "stream %s: lease renewal of %d entries failed: %s",
                self.stream,
                len(ids),
                type(exc).__name__,
            )
            return
        self._counts["leases_renewed"] += len(renewed)

    # ---------------------------------------------------------------- lag

    async def _lag_loop(self) -> None:
        """Report the group's lag and pending count now and every ``lag_interval``."""
        interval = self.config.lag_interval
        assert interval is not None
        while True:
            if not await self._report_lag():
                return
            await anyio.sleep(interval)

    async def _report_lag(self) -> bool:
        """One ``XINFO GROUPS`` into the gauges; ``False`` when reporting must stop.

        ``lag`` is skipped when the server cannot tell it (nil: before Redis 7, or after
        deletions in the range the group has not read). Metrics never stop the consumer:
        a refused ``XINFO`` ends the reports with a warning, other errors skip one.
        """
        hooks = self._hooks
        if hooks is None:
            return False
        try:
            groups = await self._admin.groups(self.stream)
        except AuthorizationError:
            log.warning(
                "stream %s: XINFO GROUPS refused; consumer_lag/consumer_pending not reported",
                self.stream,
            )
            return False
        except RedisError as exc:
            log.debug("stream %s: lag report skipped: %s", self.stream, type(exc).__name__)
            return True
        for group in groups:
            if group.name == self.config.group:
                hooks.gauge("consumer_pending", float(group.pending))
                if group.lag is not None:
                    hooks.gauge("consumer_lag", float(group.lag))
        return True
