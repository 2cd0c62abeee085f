"""Retry policy: validated config, pure delay schedule, tenacity adapters, classification."""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Any, Literal, Protocol

import tenacity

from redis_fintech_sdk.errors import (
    BackpressureError,
    ClusterError,
    ConfigurationError,
    ConnectionFailedError,
    ReadOnlyError,
    RedisTimeoutError,
    TLSError,
)

__all__ = ["Jitter", "RandomLike", "RetryPolicy", "apply_jitter", "is_retryable"]

Jitter = float | Literal["full", "equal"]
"""Jitter: a fraction in [0, 1], or the ``"full"`` / ``"equal"`` strategies."""


class RandomLike(Protocol):
    """Anything with ``random() -> float`` in [0, 1), e.g. :class:`random.Random`."""

    def random(self) -> float:
        """Return the next float in [0, 1)."""
        ...


_RETRYABLE: tuple[type[BaseException], ...] = (
    ConnectionFailedError,
    RedisTimeoutError,
    BackpressureError,
    ReadOnlyError,
    ClusterError,
)
_NEVER: tuple[type[BaseException], ...] = (TLSError,)


def is_retryable(exc: BaseException) -> bool:
    """Tell whether retrying the same call may succeed.

    Yes for transient trouble: connection refused/reset, timeouts, ``-OOM`` backpressure,
    writes that hit a replica mid-failover (``READONLY``) and unresolved cluster
    redirections (``CLUSTERDOWN``/``TRYAGAIN``). No for everything else: authentication,
    authorization, codec and configuration errors do not fix themselves, a failed TLS
    handshake is almost always a certificate problem, :class:`CircuitOpenError` means
    "stop calling", and :class:`RateLimitedError` carries its own ``retry_after``.

    Args:
        exc: the exception a call raised.
    """
    return isinstance(exc, _RETRYABLE) and not isinstance(exc, _NEVER)


def apply_jitter(delay: float, jitter: Jitter, rng: RandomLike) -> float:
    """Spread ``delay`` randomly.

    ``"full"``: U(0, d); ``"equal"``: d/2 + U(0, d/2); a fraction j: d * (1 - j * U(0, 1)),
    so 0 is no jitter and 1 is full jitter.

    Args:
        delay: the un-jittered delay in seconds.
        jitter: the strategy or fraction.
        rng: the randomness source.
    """
    if jitter == "full":
        return delay * rng.random()
    if jitter == "equal":
        return delay / 2 + delay / 2 * rng.random()
    if jitter == 0:
        return delay
    return delay * (1.0 - float(jitter) * rng.random())


def _validate_backoff(base: float, cap: float, multiplier: float, jitter: Jitter) -> None:
    if not base > 0:
        raise ConfigurationError("base", "must be > 0 seconds")
    if not cap >= base:
        raise ConfigurationError("cap", "must be >= base")
    if not multiplier >= 1:
        raise ConfigurationError("multiplier", "must be >= 1")
    if isinstance(jitter, str):
        if jitter not in ("full", "equal"):
            raise ConfigurationError("jitter", "must be 'full', 'equal' or a number in [0, 1]")
    elif isinstance(jitter, bool) or not 0.0 <= jitter <= 1.0:
        raise ConfigurationError("jitter", "must be 'full', 'equal' or a number in [0, 1]")


@dataclass(frozen=True, kw_only=True)
class RetryPolicy:
    """How often and how patiently to retry a call. Frozen, keyword-only, validated.

    Delay before retry ``n`` (1-based) is ``min(cap, base * multiplier ** (n - 1))``, then
    jittered. Defaults (3 attempts, 50 ms base, 2 s cap, full jitter) suit interactive
    calls; background workers usually want more attempts.

    Attributes:
        attempts: total attempts including the first (>= 1; 1 means no retry).
        base: first delay in seconds (> 0).
        cap: largest delay in seconds (>= base).
        multiplier: growth factor per retry (>= 1).
        jitter: ``"full"``, ``"equal"`` or a fraction in [0, 1] (see :func:`apply_jitter`).
    """

    attempts: int = 3
    base: float = 0.05
    cap: float = 2.0
    multiplier: float = 2.0
    jitter: Jitter = "full"

    def __post_init__(self) -> None:
        if isinstance(self.attempts, bool) or self.attempts < 1:
            raise ConfigurationError("attempts", "must be >= 1")
        _validate_backoff(self.base, self.cap, self.multiplier, self.jitter)

    def backoff(self, retry: int) -> float:
        """The un-jittered delay before retry ``retry`` (1-based)."""
        # Cap the exponent first so huge retry numbers cannot overflow a float.
        exponent = min(retry - 1, 1024)
        try:
            raw = self.base * self.multiplier**exponent
        except OverflowError:
            return self.cap
        return min(self.cap, raw)

    def delays(self, rng: RandomLike | None = None) -> Iterator[float]:
        """Yield the ``attempts - 1`` delays to sleep between attempts. Pure.

        Args:
            rng: source of randomness; defaults to a fresh :class:`random.Random`.
        """
        source = rng if rng is not None else random.Random()  # noqa: S311 - jitter, not crypto
        for retry in range(1, self.attempts):
            yield apply_jitter(self.backoff(retry), self.jitter, source)

    def retrying(
        self,
        retry_on: tuple[type[BaseException], ...] | Callable[[BaseException], bool] | None = None,
        *,
        rng: RandomLike | None = None,
        sleep: Callable[[float], None] | None = None,
        before_sleep: Callable[[tenacity.RetryCallState], None] | None = None,
    ) -> tenacity.Retrying:
        """A :class:`tenacity.Retrying` following this policy, for application-level retries.

        The last exception is re-raised as is (``reraise=True``), never ``RetryError``.

        Args:
            retry_on: exception classes, or a predicate; default :func:`is_retryable`.
            rng: randomness for jitter.
            sleep: replacement for ``time.sleep`` (tests).
            before_sleep: tenacity hook called before each sleep (logging, metrics).
        """
        kwargs = self._tenacity_kwargs(retry_on, rng, before_sleep)
        if sleep is not None:
            kwargs["sleep"] = sleep
        return tenacity.Retrying(**kwargs)

    def async_retrying(
        self,
        retry_on: tuple[type[BaseException], ...] | Callable[[BaseException], bool] | None = None,
        *,
        rng: RandomLike | None = None,
        sleep: Callable[[float], Awaitable[None]] | None = None,
        before_sleep: Callable[[tenacity.RetryCallState], None] | None = None,
    ) -> tenacity.AsyncRetrying:
        """The asyncio twin of :meth:`retrying` (``async for attempt in ...``).

        Args:
            retry_on: exception classes, or a predicate; default :func:`is_retryable`.
            rng: randomness for jitter.
            sleep: replacement for ``asyncio.sleep`` (tests).
            before_sleep: tenacity hook called before each sleep.
        """
        kwargs = self._tenacity_kwargs(retry_on, rng, before_sleep)
        if sleep is not None:
            kwargs["sleep"] = sleep
        return tenacity.AsyncRetrying(**kwargs)

    def _tenacity_kwargs(
        self,
        retry_on: tuple[type[BaseException], ...] | Callable[[BaseException], bool] | None,
        rng: RandomLike | None,
        before_sleep: Callable[[tenacity.RetryCallState], None] | None,
    ) -> dict[str, Any]:
        if retry_on is None:
            predicate: Callable[[BaseException], bool] = is_retryable
        elif isinstance(retry_on, tuple):
            classes = retry_on

            def predicate(exc: BaseException) -> bool:
                return isinstance(exc, classes)
        else:
            predicate = retry_on
        source = rng if rng is not None else random.Random()  # noqa: S311 - jitter, not crypto

        def wait(state: tenacity.RetryCallState) -> float:
            return apply_jitter(self.backoff(state.attempt_number), self.jitter, source)

        kwargs: dict[str, Any] = {
            "stop": tenacity.stop_after_attempt(self.attempts),
            "wait": wait,
            "retry": tenacity.retry_if_exception(predicate),
            "reraise": True,
        }
        if before_sleep is not None:
            kwargs["before_sleep"] = before_sleep
        return kwargs
