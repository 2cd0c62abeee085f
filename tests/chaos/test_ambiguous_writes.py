"""F7 reset after send, F4 ``DEBUG SLEEP``, F3 SIGSTOP: the ambiguous-write family.

Each fault leaves the client not knowing whether its ``XADD`` was applied. The guarantee:
no duplicate effect, and nothing acknowledged is lost. An ambiguous attempt is either
retried with the same message id through the idempotent recipe (dedup mark + XADD in one
script), or — for a plain XADD — surfaced to the caller and classified *ambiguous*, never
acknowledged and never counted as lost.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import anyio
import anyio.to_thread
import pytest

from redis_fintech_sdk.connection import Client
from redis_fintech_sdk.errors import RedisError
from redis_fintech_sdk.settings import RetryConfig, Timeouts
from redis_fintech_sdk.testing import RedisServer
from redis_fintech_sdk.testing.checker import History, check
from redis_fintech_sdk.testing.faults import FaultProxy

from ._harness import ProducerStats, StreamProducer, read_back, rng_for, run_producers, scale
from ._harness import sdk_client as make_client

STREAM = "chaos:amb"


@pytest.fixture
def proxied(
    chaos_server: Callable[..., RedisServer], chaos_seed: int
) -> tuple[RedisServer, FaultProxy]:
    server = chaos_server(appendonly=True, appendfsync="always")
    proxy = FaultProxy(server.address, seed=chaos_seed).start()
    return server, proxy


@pytest.fixture
def proxy_cleanup(proxied: tuple[RedisServer, FaultProxy]) -> object:
    yield None
    proxied[1].stop()


@pytest.mark.anyio
@pytest.mark.usefixtures("proxy_cleanup")
async def test_f7_reset_after_xadd_idempotent_retry_has_no_duplicate_effect(
    proxied: tuple[RedisServer, FaultProxy], history: History, chaos_seed: int
) -> None:
    server, proxy = proxied
    injections = scale(100, 1000)
    rng = rng_for(chaos_seed, "f7")
    stats = ProducerStats()
    async with make_client(proxy.host, proxy.port, command_timeout=2.0) as client:
        producer = StreamProducer(client, STREAM, history, stats=stats)
        seq = 1
        await producer.send(seq)  # loads the script: later cuts hit an applied EVALSHA
        for i in range(injections):
            for _ in range(rng.randrange(0, 3)):
                seq += 1
                await producer.send(seq)
            history.fault("cut_after", command="EVALSHA", injection=i)
            proxy.cut_after("EVALSHA", nth=1)
            seq += 1
            await producer.send(seq)
            assert proxy.cut_fired
    read_back(server, STREAM, history)
    history.notes.update(stats.as_notes())
    history.notes["cuts"] = proxy.statistics().cuts
    verdict = check(history)
    verdict.assert_guarantee(lost=0, duplicates=0, phantoms=0, min_acknowledged=injections)
    # R5: every injection was applied by the server, then answered by a dedup hit on retry.
    assert proxy.statistics().cuts == injections
    assert stats.dedup_hits == injections, verdict.report()


@pytest.mark.anyio
@pytest.mark.usefixtures("proxy_cleanup")
async def test_f7_reset_after_plain_xadd_is_ambiguous_not_lost(
    proxied: tuple[RedisServer, FaultProxy], history: History
) -> None:
    """A plain XADD through AsyncClient: each cut must surface as an error (ambiguous)."""
    server, proxy = proxied
    injections = scale(30, 300)
    async with make_client(proxy.host, proxy.port, command_timeout=2.0) as client:
        producer = StreamProducer(client, STREAM, history, idempotent=False)
        for i in range(injections):
            await producer.send(2 * i + 1)
            history.fault("cut_after", command="XADD", injection=i)
            proxy.cut_after("XADD", nth=1)
            await producer.send(2 * i + 2)
    read_back(server, STREAM, history)
    verdict = check(history)
    verdict.assert_guarantee(lost=0, duplicates=0, phantoms=0, min_acknowledged=injections)
    # The server applied every cut XADD; the client must have said "unknown", not "ok".
    assert len(verdict.ambiguous) == injections, verdict.report()
    assert verdict.ambiguous_applied == verdict.ambiguous
    assert not verdict.failed


def _sync_plain_xadds(
    server: RedisServer, history: History, address: tuple[str, int], fault: Callable[[int], None]
) -> None:
    with Client(
        host=address[0],
        port=address[1],
        timeouts=Timeouts(connect=2.0, command=0.5),
        retry=RetryConfig(attempts=3, backoff_base=0.02, backoff_cap=0.5),
    ) as client:
        for i in range(scale(10, 100)):
            mid = f"p-{i}"
            fault(i)
            history.attempt(mid, producer="p", seq=i)
            try:
                client.execute("XADD", STREAM, "*", "mid", mid)
            except RedisError as exc:
                history.ambiguous(mid, type(exc).__name__)
            else:
                history.ack(mid)
    read_back(server, STREAM, history)


@pytest.mark.usefixtures("proxy_cleanup")
def test_f7_sync_client_does_not_resend_plain_xadd(
    proxied: tuple[RedisServer, FaultProxy], history: History
) -> None:
    server, proxy = proxied

    def cut(i: int) -> None:
        history.fault("cut_after", command="XADD", injection=i)
        proxy.cut_after("XADD", nth=1)

    _sync_plain_xadds(server, history, proxy.address, cut)
    check(history).assert_guarantee(lost=0, duplicates=0, min_acknowledged=0)


def _sleep_server(server: RedisServer, seconds: float) -> threading.Thread:
    thread = threading.Thread(
        target=server.command, args=("DEBUG", "SLEEP", str(seconds)), kwargs={"timeout": 30}
    )
    thread.start()
    time.sleep(0.05)
    return thread


@pytest.mark.anyio
async def test_f4_debug_sleep_past_timeout_idempotent_no_duplicates(
    chaos_server: Callable[..., RedisServer], history: History, chaos_seed: int
) -> None:
    server = chaos_server(appendonly=True, appendfsync="always")
    rng = rng_for(chaos_seed, "f4")
    stats = ProducerStats()
    async with make_client(server.host, server.port, command_timeout=0.3) as client:
        producers = [
            StreamProducer(client, STREAM, history, producer=f"w{i}", stats=stats) for i in range(4)
        ]
        stop = anyio.Event()
        async with anyio.create_task_group() as tg:
            tg.start_soon(run_producers, producers, stop)
            for n in range(scale(2, 10)):
                await anyio.sleep(rng.uniform(0.2, 0.6))
                seconds = scale(1.0, 5.0)
                history.fault("DEBUG SLEEP", seconds=seconds, n=n)
                thread = await anyio.to_thread.run_sync(_sleep_server, server, seconds)
                await anyio.to_thread.run_sync(thread.join)
            await anyio.sleep(0.3)
            stop.set()
    read_back(server, STREAM, history)
    history.notes.update(stats.as_notes())
    verdict = check(history)
    verdict.assert_guarantee(lost=0, duplicates=0, phantoms=0, min_acknowledged=50)
    # The sleep outlasted the 0.3 s timeout: producers saw typed timeouts, nothing else.
    assert stats.errors.get("RedisTimeoutError", 0) > 0, verdict.report()
    assert set(stats.errors) <= {"RedisTimeoutError", "ConnectionFailedError"}, stats.errors


def test_f4_sync_client_does_not_resend_timed_out_xadd(
    chaos_server: Callable[..., RedisServer], history: History
) -> None:
    server = chaos_server()
    threads: list[threading.Thread] = []

    def sleep(i: int) -> None:
        if i % 3 == 0:
            history.fault("DEBUG SLEEP", seconds=1.0, n=i)
            threads.append(_sleep_server(server, 1.0))

    _sync_plain_xadds(server, history, server.address, sleep)
    for thread in threads:
        thread.join()
    check(history).assert_guarantee(lost=0, duplicates=0, min_acknowledged=0)


@pytest.mark.anyio
async def test_f3_sigstop_sigcont_typed_timeouts_and_recovery(
    chaos_server: Callable[..., RedisServer], history: History, chaos_seed: int
) -> None:
    server = chaos_server(appendonly=True, appendfsync="always")
    rng = rng_for(chaos_seed, "f3")
    stats = ProducerStats()
    recoveries: list[float] = []
    async with make_client(server.host, server.port, command_timeout=0.5) as client:
        producers = [
            StreamProducer(client, STREAM, history, producer=f"w{i}", stats=stats) for i in range(4)
        ]
        stop = anyio.Event()
        async with anyio.create_task_group() as tg:
            tg.start_soon(run_producers, producers, stop)
            for n in range(scale(2, 10)):
                await anyio.sleep(rng.uniform(0.2, 0.6))
                hang = rng.uniform(1.0, 2.0)
                history.fault("SIGSTOP", seconds=round(hang, 3), n=n)
                server.pause()
                await anyio.sleep(hang)
                server.resume()
                resumed = time.monotonic()
                acked = len(stats.latencies)
                with anyio.fail_after(10):
                    await stats.wait_for_ack_beyond(acked)
                recoveries.append(time.monotonic() - resumed)
            stop.set()
    read_back(server, STREAM, history)
    history.notes.update(stats.as_notes())
    history.notes["recovery_s"] = [round(r, 3) for r in recoveries]
    verdict = check(history)
    verdict.assert_guarantee(lost=0, duplicates=0, phantoms=0, min_acknowledged=50)
    assert stats.errors.get("RedisTimeoutError", 0) > 0, verdict.report()
    assert set(stats.errors) <= {"RedisTimeoutError", "ConnectionFailedError"}, stats.errors
    # Writes resume within a second of SIGCONT (no breaker in the connection layer yet).
    assert max(recoveries) <= 1.0, recoveries
