"""Reconnect backoff: an endless, capped, jittered delay sequence that resets on success."""

from __future__ import annotations

import random

from ._retry import Jitter, RandomLike, _validate_backoff, apply_jitter

__all__ = ["Backoff"]


class Backoff:
    """Delays for a reconnect loop that never gives up (subscribers, consumers).

    Example:
        >>> backoff = Backoff(base=0.1, cap=5.0, jitter=0)
        >>> [backoff.next_delay() for _ in range(4)]
        [0.1, 0.2, 0.4, 0.8]
        >>> backoff.reset()
        >>> backoff.next_delay()
        0.1
    """

    def __init__(
        self,
        *,
        base: float = 0.1,
        cap: float = 10.0,
        multiplier: float = 2.0,
        jitter: Jitter = "equal",
        rng: RandomLike | None = None,
    ) -> None:
        """Create a backoff at attempt 0.

        Defaults: 100 ms doubling to 10 s with equal jitter (never less than half the
        step, so a fleet of subscribers does not hammer a restarting server, yet spreads out).

        Raises:
            ConfigurationError: base <= 0, cap < base, multiplier < 1, or bad jitter.
        """
        _validate_backoff(base, cap, multiplier, jitter)
        self.base = base
        self.cap = cap
        self.multiplier = multiplier
        self.jitter: Jitter = jitter
        self._rng = rng if rng is not None else random.Random()  # noqa: S311 - not crypto
        self.attempt = 0

    def next_delay(self) -> float:
        """The delay before the next attempt; advances the attempt counter."""
        exponent = min(self.attempt, 1024)
        self.attempt += 1
        try:
            raw = self.base * self.multiplier**exponent
        except OverflowError:
            raw = self.cap
        return apply_jitter(min(self.cap, raw), self.jitter, self._rng)

    def reset(self) -> None:
        """Call after a success: the next delay starts from ``base`` again."""
        self.attempt = 0

    def __repr__(self) -> str:
        return f"Backoff(base={self.base}, cap={self.cap}, attempt={self.attempt})"
