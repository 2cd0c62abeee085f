"""Shared pieces of the chaos scenarios: scaling, producers that record histories, read-back.

Nothing here asserts; scenarios assert through the checker's verdicts.
"""

from __future__ import annotations

import os
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import anyio
import anyio.lowlevel

from redis_fintech_sdk.connection import AsyncClient
from redis_fintech_sdk.errors import (
    AuthenticationError,
    AuthorizationError,
    BackpressureError,
    RedisError,
    ResponseError,
)
from redis_fintech_sdk.settings import RetryConfig, Timeouts
from redis_fintech_sdk.testing import RedisServer
from redis_fintech_sdk.testing.checker import History

CERTIFY = os.environ.get("RFSDK_CERTIFY", "") not in ("", "0")


def scale(ci: float, certify: float) -> Any:
    """The CI figure, or the certify figure when ``RFSDK_CERTIFY=1`` (same type as given)."""
    return certify if CERTIFY else ci


# The idempotent-production recipe at the connection level (until the streams layer lands):
# the dedup mark and the XADD are one atomic script, so a retry of an ambiguous attempt with
# the same message id applies at most once. A nil reply means "already applied".
IDEMPOTENT_XADD = """
if redis.call('SET', KEYS[2], '1', 'NX', 'EX', tonumber(ARGV[2])) then
  return redis.call('XADD', KEYS[1], '*', 'mid', ARGV[1], 'p', ARGV[3])
end
return false
"""


def dedup_key(stream: str, mid: str) -> str:
    """The dedup key of ``mid`` (same hash slot as the stream)."""
    return f"dedup:{{{stream}}}:{mid}"


def sdk_client(
    host: str,
    port: int,
    *,
    command_timeout: float = 5.0,
    retries: int = 3,
    username: str | None = None,
    password: str | None = None,
    health_check_interval: float = 15.0,
) -> AsyncClient:
    """An SDK client with explicit, small timeouts for fault tests."""
    kwargs: dict[str, Any] = {}
    if password is not None:
        from redis_fintech_sdk.settings import Credentials, Secret

        kwargs["credentials"] = Credentials(username=username, password=Secret(password))
    return AsyncClient(
        host=host,
        port=port,
        timeouts=Timeouts(
            connect=2.0, command=command_timeout, health_check_interval=health_check_interval
        ),
        retry=RetryConfig(attempts=retries, backoff_base=0.02, backoff_cap=0.5),
        **kwargs,
    )


@dataclass
class ProducerStats:
    """What producers did, beyond the history (figures for the report)."""

    sent: int = 0
    dedup_hits: int = 0
    errors: dict[str, int] = field(default_factory=dict)
    latencies: list[float] = field(default_factory=list)
    _ack_event: anyio.Event = field(default_factory=anyio.Event, repr=False)

    def acked(self, latency: float) -> None:
        self.latencies.append(latency)
        event, self._ack_event = self._ack_event, anyio.Event()
        event.set()

    async def wait_for_ack_beyond(self, count: int) -> None:
        """Wait until more than ``count`` messages have been acknowledged."""
        while len(self.latencies) <= count:
            await self._ack_event.wait()

    def error(self, exc: BaseException) -> None:
        name = type(exc).__name__
        self.errors[name] = self.errors.get(name, 0) + 1

    def p99_ms(self) -> float:
        if not self.latencies:
            return 0.0
        ordered = sorted(self.latencies)
        return round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000, 2)

    def as_notes(self) -> dict[str, Any]:
        return {
            "sent": self.sent,
            "dedup_hits": self.dedup_hits,
            "errors": dict(self.errors),
            "p99_ms": self.p99_ms(),
            "max_ms": round(max(self.latencies, default=0.0) * 1000, 2),
        }


class StreamProducer:
    """Writes numbered messages to a stream through the SDK client, recording the history.

    Args:
        client: the SDK client.
        stream: the stream key.
        history: where outcomes go.
        idempotent: use the dedup recipe (retry ambiguous attempts with the same id);
            otherwise a plain ``XADD`` that is never retried by the application.
        retry_for: seconds an idempotent message is retried before it is left ambiguous.
        payload: builds the payload of message number ``n``.
    """

    def __init__(
        self,
        client: AsyncClient,
        stream: str,
        history: History,
        *,
        producer: str = "p",
        idempotent: bool = True,
        retry_for: float = 20.0,
        payload: Callable[[int], bytes] | None = None,
        stats: ProducerStats | None = None,
    ) -> None:
        self.client = client
        self.stream = stream
        self.history = history
        self.producer = producer
        self.idempotent = idempotent
        self.retry_for = retry_for
        self.payload = payload or (lambda n: b"x" * 64)
        self.stats = stats or ProducerStats()
        self._script: Any = None

    async def send(self, seq: int) -> bool:
        """Send message ``seq``; return whether it was acknowledged."""
        mid = f"{self.producer}-{seq}"
        self.history.attempt(mid, producer=self.producer, seq=seq)
        self.stats.sent += 1
        deadline = time.monotonic() + self.retry_for
        start = time.monotonic()
        while True:
            try:
                if self.idempotent:
                    reply = await self._xadd_idempotent(mid, self.payload(seq))
                    if reply is None:
                        self.stats.dedup_hits += 1
                else:
                    await self.client.execute(
                        "XADD", self.stream, "*", "mid", mid, "p", self.payload(seq)
                    )
            except (AuthorizationError, AuthenticationError, BackpressureError) as exc:
                # The server refused before applying anything: a definite failure.
                self.stats.error(exc)
                self.history.fail(mid, type(exc).__name__)
                return False
            except ResponseError as exc:
                self.stats.error(exc)
                self.history.fail(mid, type(exc).__name__)
                return False
            except RedisError as exc:
                # Timeout, reset, refused: the attempt may or may not have been applied.
                self.stats.error(exc)
                self.history.ambiguous(mid, type(exc).__name__)
                if not self.idempotent or time.monotonic() > deadline:
                    return False
                await anyio.sleep(0.02)
                continue
            self.history.ack(mid)
            self.stats.acked(time.monotonic() - start)
            return True

    async def _xadd_idempotent(self, mid: str, payload: bytes) -> Any:
        with self.client.translate_errors("EVALSHA"):
            if self._script is None:
                self._script = self.client.redis.register_script(IDEMPOTENT_XADD)
            return await self._script(
                keys=[self.stream, dedup_key(self.stream, mid)], args=[mid, 3600, payload]
            )

    async def run(self, stop: anyio.Event, *, start: int, step: int, rate: float = 0.0) -> int:
        """Send ``start, start+step, ...`` until ``stop`` is set; return how many were sent."""
        seq = start
        sent = 0
        interval = 1.0 / rate if rate > 0 else 0.0
        while not stop.is_set():
            t0 = time.monotonic()
            await self.send(seq)
            seq += step
            sent += 1
            if interval:
                await anyio.sleep(max(0.0, interval - (time.monotonic() - t0)))
            elif sent % 64 == 0:
                await anyio.lowlevel.checkpoint()
        return sent


async def run_producers(
    producers: list[StreamProducer], stop: anyio.Event, *, rate: float = 0.0
) -> None:
    """Run producers concurrently with interleaved sequence numbers until ``stop``."""
    n = len(producers)

    async def one(i: int) -> None:
        await producers[i].run(stop, start=i + 1, step=n, rate=rate / n)

    async with anyio.create_task_group() as tg:
        for i in range(n):
            tg.start_soon(one, i)


def read_back(
    server: RedisServer, stream: str, history: History, *, keep_payloads: bool = True
) -> dict[str, list[bytes]]:
    """Record one side effect per stream entry (by its ``mid`` field); return payloads by id.

    With ``keep_payloads=False`` the payloads are not kept (the lists hold empty bytes): for
    long runs whose entries only need counting.
    """
    found: dict[str, list[bytes]] = {}
    with server.client() as raw:
        last = "-"
        while True:
            batch = raw.xrange(stream, min=last, max="+", count=5000)
            if last != "-":
                batch = batch[1:]
            if not batch:
                break
            for _entry_id, fields in batch:
                mid = fields[b"mid"].decode()
                found.setdefault(mid, []).append(fields.get(b"p", b"") if keep_payloads else b"")
            last = batch[-1][0].decode()
    for mid, payloads in found.items():
        history.effect(mid, len(payloads))
    return found


def rng_for(seed: int, name: str) -> random.Random:
    """A per-purpose RNG derived from the scenario seed (replayable)."""
    return random.Random(f"{seed}:{name}")
