"""How a stream consumer follows its circuit breaker: pause reads, defer entries.

A mixin of :class:`~redis_fintech_sdk.streams.StreamConsumer` (``ConsumerConfig.breaker``).

* While the breaker refuses calls (OPEN, FORCED_OPEN, or HALF_OPEN with every probe
  taken) the read and reclaim loops fetch nothing: an outage downstream does not pull more
  entries into this consumer only to fail them.
* In HALF_OPEN each fetch first takes one probe permit and reads one entry with it,
  without blocking: a probe held through an empty blocking read would keep the reclaim
  loop from the probe slots (and could expire as a failure).
* An entry the breaker refuses when its handler is about to run, or whose handler failed
  in a way the breaker blames on the outage (:func:`._decisions.defer_for_outage`), is
  *deferred*: given back (``XCLAIM ... IDLE RETRYCOUNT <attempt - 1> JUSTID``) with its
  delivery count restored, so it is delivered again after ``retry_delay`` once the
  breaker lets calls through, with the same attempt number. An outage therefore never
  uses up attempts or dead-letters entries.
"""

from __future__ import annotations

import logging

import anyio

from redis_fintech_sdk.connection._async.client import AsyncClient
from redis_fintech_sdk.errors import CircuitOpenError
from redis_fintech_sdk.resilience import CircuitState, Permit
from redis_fintech_sdk.streams._config import ConsumerConfig
from redis_fintech_sdk.streams._decisions import defer_for_outage

__all__ = ["BreakerGate"]

log = logging.getLogger("redis_fintech_sdk.streams")

_FREE = frozenset({CircuitState.CLOSED, CircuitState.DISABLED, CircuitState.METRICS_ONLY})
# The longest a paused loop sleeps before asking the breaker again: a breaker shared with
# other consumers may close without one of our handlers finishing.
_MAX_PAUSE = 1.0


class BreakerGate:
    """Breaker permits, pauses and deferrals of a stream consumer."""

    _client: AsyncClient
    stream: str
    config: ConsumerConfig
    _counts: dict[str, int]
    _wake: anyio.Event
    _probes: dict[str, Permit]
    _paused: bool

    async def _admit(self, wanted: int, *, reader: bool = False) -> tuple[int, Permit | None]:
        """How many entries a loop may fetch now, and the probe permit for the first.

        Returns ``(0, None)`` after pausing when the breaker refuses calls; the caller
        loops (and checks for a stop) before asking again.
        """
        breaker = self.config.breaker
        if breaker is None or breaker.state in _FREE:
            if reader:
                self._paused = False
            return wanted, None
        try:
            permit = breaker.acquire()
        except CircuitOpenError as exc:
            if reader and not self._paused:
                self._paused = True
                self._counts["pauses"] += 1
                log.info("stream %s: breaker %r open; reading paused", self.stream, breaker.name)
            await self._pause(exc.retry_after)
            return 0, None
        if reader:
            self._paused = False
        return 1, permit

    async def _pause(self, retry_after: float) -> None:
        # Woken early when one of our handlers finishes (a probe may have closed the
        # breaker) or when the consumer is stopped.
        wake = self._wake
        with anyio.move_on_after(min(max(retry_after, 0.01), _MAX_PAUSE)):
            await wake.wait()

    def _wake_paused(self) -> None:
        self._wake.set()
        self._wake = anyio.Event()

    def _release_unused(self, permit: Permit | None) -> None:
        """Hand back a permit no handler used; the breaker records nothing for it."""
        breaker = self.config.breaker
        if permit is not None and breaker is not None:
            # The breaker counts cancellation as "ignored": it gives a probe slot back,
            # which the other loop may be waiting for.
            breaker.release(permit, anyio.get_cancelled_exc_class()())
            self._wake_paused()

    def _permit_for(self, entry_id: str) -> tuple[bool, Permit | None]:
        """The permit to run this entry's handler with: ``(False, None)`` when refused."""
        breaker = self.config.breaker
        if breaker is None:
            return True, None
        probe = self._probes.pop(entry_id, None)
        if probe is not None:
            if breaker.state is probe.state:
                return True, probe
            # Another probe failed (or closed the breaker) since this one was granted.
            self._release_unused(probe)
        try:
            return True, breaker.acquire()
        except CircuitOpenError:
            return False, None

    def _release(self, permit: Permit | None, error: BaseException | None) -> None:
        breaker = self.config.breaker
        if permit is not None and breaker is not None:
            breaker.release(permit, error)

    def _outage(self, error: BaseException | None) -> bool:
        """Whether a failure is the outage's fault and the entry should be deferred."""
        breaker = self.config.breaker
        if breaker is None or error is None:
            return False
        return defer_for_outage(
            self.config.ack_policy, counted=breaker.is_failure(error), state=breaker.state
        )

    async def _defer(self, entry_id: str, attempt: int) -> None:
        """Give an entry back for a later delivery with the same attempt number."""
        cfg = self.config
        idle = int(max(0.0, cfg.visibility_timeout - cfg.retry_delay) * 1000)
        with self._client.translate_errors("XCLAIM", key=self.stream):
            await self._client.redis.xclaim(
                self.stream,
                cfg.group,
                cfg.consumer,
                0,
                [entry_id],
                idle=idle,
                retrycount=max(0, attempt - 1),
                justid=True,
            )
        self._counts["deferred"] += 1
