"""GCRA (generic cell rate algorithm) rate limiting: the math, and the same math in Lua.

GCRA keeps one number per subject, the *theoretical arrival time* (TAT). With emission
interval ``T = period / rate`` and burst ``B``, a request of cost ``c`` at time ``now`` is
allowed when ``max(TAT, now) + c*T - B*T <= now``; then ``TAT = max(TAT, now) + c*T``.
Otherwise it is refused and may retry after ``max(TAT, now) + c*T - B*T - now``. Over any
window of length ``W`` at most ``B + W/T`` requests pass — a token bucket of size ``B``
refilled at ``rate``, without a refill timer.

The Redis script runs the same step atomically with the server's clock (``TIME``), so
clients with skewed clocks share one limit. Times are integer microseconds.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass

from redis_fintech_sdk.errors import ConfigurationError

__all__ = ["GCRA_SCRIPT", "RateDecision", "RateLimit", "api_key_subject", "gcra_step"]


@dataclass(frozen=True)
class RateLimit:
    """A limit: ``rate`` requests per ``period`` seconds, bursts of up to ``burst``.

    Raises:
        ConfigurationError: a non-positive rate or period, or ``burst`` < 1.
    """

    rate: float
    period: float = 1.0
    burst: int = 1

    def __post_init__(self) -> None:
        if not (self.rate > 0 and self.period > 0 and math.isfinite(self.rate / self.period)):
            raise ConfigurationError("rate", "rate and period must be positive")
        if not isinstance(self.burst, int) or self.burst < 1:
            raise ConfigurationError("burst", "must be an int >= 1")
        if self.interval_us < 1:
            raise ConfigurationError("rate", "at most 1,000,000 requests per second")

    @property
    def interval_us(self) -> int:
        """The emission interval ``T`` in whole microseconds."""
        return round(self.period / self.rate * 1_000_000)


@dataclass(frozen=True)
class RateDecision:
    """The answer of one limiter step.

    Attributes:
        allowed: the request may proceed.
        retry_after: seconds until the same request would be allowed (0 when allowed).
        remaining: requests still allowed right now after this one.
    """

    allowed: bool
    retry_after: float
    remaining: int


def gcra_step(
    tat_us: int | None, now_us: int, limit: RateLimit, cost: int = 1
) -> tuple[RateDecision, int | None]:
    """One GCRA step.

    Args:
        tat_us: the stored theoretical arrival time, ``None`` for a new subject.
        now_us: the current time in microseconds.
        limit: the limit.
        cost: how many requests this one counts as.

    Returns:
        The decision and the TAT to store (``None``: leave it unchanged).

    Raises:
        ConfigurationError: ``cost`` < 1 or larger than the burst (it could never pass).
    """
    if cost < 1 or cost > limit.burst:
        raise ConfigurationError("cost", "must be within 1..burst")
    t = limit.interval_us
    tat = now_us if tat_us is None or tat_us < now_us else tat_us
    new_tat = tat + t * cost
    allow_at = new_tat - t * limit.burst
    if allow_at > now_us:
        return RateDecision(False, (allow_at - now_us) / 1_000_000, 0), None
    remaining = (now_us + t * limit.burst - new_tat) // t
    return RateDecision(True, 0.0, int(remaining)), new_tat


def api_key_subject(api_key: str) -> str:
    """A limiter subject for an API key that does not reveal it: ``apikey:<sha256 prefix>``."""
    return "apikey:" + hashlib.sha256(api_key.encode("utf-8")).hexdigest()[:32]


# KEYS[1]: the subject's TAT key. ARGV: interval_us, burst, cost.
# Returns {allowed (0/1), retry_after_us, remaining}. Same arithmetic as gcra_step().
GCRA_SCRIPT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local tat = tonumber(redis.call('GET', KEYS[1])) or now
if tat < now then tat = now end
local new_tat = tat + interval * cost
local allow_at = new_tat - interval * burst
if allow_at > now then
  return {0, allow_at - now, 0}
end
local ttl_ms = math.ceil((new_tat - now) / 1000) + 1
redis.call('SET', KEYS[1], string.format('%.0f', new_tat), 'PX', ttl_ms)
return {1, 0, math.floor((now + interval * burst - new_tat) / interval)}
"""
