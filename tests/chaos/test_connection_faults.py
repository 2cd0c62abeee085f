"""F5 ``CLIENT PAUSE WRITE``, F6 ``CLIENT KILL``, F8 latency, F9 fragmented RESP.

All through the SDK's AsyncClient with the idempotent XADD recipe; every entry is read back
and checked (0 lost, 0 duplicate effects) besides each fault's own criterion.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable

import anyio
import anyio.to_thread
import pytest

from redis_fintech_sdk.connection import AsyncClient
from redis_fintech_sdk.errors import RedisError
from redis_fintech_sdk.testing import RedisServer
from redis_fintech_sdk.testing.checker import History, check
from redis_fintech_sdk.testing.faults import FaultProxy

from ._harness import ProducerStats, StreamProducer, read_back, rng_for, run_producers, scale
from ._harness import sdk_client as make_client

pytestmark = pytest.mark.anyio

STREAM = "chaos:conn"
F9_PAGE = 10  # entries per read-back page: at most ~700 kB through the 1-7 byte slicer


async def test_f5_client_pause_write_blocks_writes_cleanly_reads_continue(
    chaos_server: Callable[..., RedisServer], history: History, chaos_seed: int
) -> None:
    server = chaos_server()
    rng = rng_for(chaos_seed, "f5")
    pause_ms = scale(1500, 5000)
    stats = ProducerStats()
    read_latencies: list[float] = []
    resume_delays: list[float] = []
    async with make_client(server.host, server.port, command_timeout=pause_ms / 1000 + 3) as client:
        producers = [
            StreamProducer(client, STREAM, history, producer=f"w{i}", stats=stats) for i in range(4)
        ]
        stop = anyio.Event()
        async with anyio.create_task_group() as tg:
            tg.start_soon(functools.partial(run_producers, producers, stop, rate=400.0))
            for n in range(scale(2, 5)):
                await anyio.sleep(rng.uniform(0.2, 0.5))
                history.fault("CLIENT PAUSE WRITE", ms=pause_ms, n=n)
                server.command("CLIENT", "PAUSE", str(pause_ms), "WRITE")
                paused_at = time.monotonic()
                while time.monotonic() - paused_at < pause_ms / 1000 - 0.2:
                    t0 = time.monotonic()
                    await client.execute("XLEN", STREAM)
                    read_latencies.append(time.monotonic() - t0)
                    await anyio.sleep(0.05)
                acked = len(stats.latencies)
                with anyio.fail_after(10):
                    await stats.wait_for_ack_beyond(acked)
                resume_delays.append(time.monotonic() - (paused_at + pause_ms / 1000))
            stop.set()
    read_back(server, STREAM, history)
    history.notes.update(stats.as_notes())
    history.notes["read_max_ms"] = round(max(read_latencies) * 1000, 2)
    history.notes["resume_delay_s"] = [round(d, 3) for d in resume_delays]
    verdict = check(history)
    verdict.assert_guarantee(lost=0, duplicates=0, phantoms=0, min_acknowledged=50)
    assert stats.errors == {}, f"error storm during CLIENT PAUSE: {stats.errors}"
    assert read_latencies, "no reads ran during the pause"
    assert max(read_latencies) < 0.5, history.notes
    assert max(resume_delays) <= 1.0, history.notes


@pytest.mark.parametrize("kill", ["normal", "user"])
async def test_f6_client_kill_reconnects_without_loss_or_duplicates(
    chaos_server: Callable[..., RedisServer], history: History, chaos_seed: int, kill: str
) -> None:
    server = chaos_server(
        appendonly=True,
        appendfsync="always",
        acl_users=["admin on >adminpw ~* &* +@all", "app on >apppw ~* &* +@all"],
    )
    rng = rng_for(chaos_seed, "f6")
    stats = ProducerStats()
    args = ["TYPE", "normal"] if kill == "normal" else ["USER", "app"]
    async with make_client(
        server.host, server.port, command_timeout=2.0, username="app", password="apppw"
    ) as client:
        producers = [
            StreamProducer(client, STREAM, history, producer=f"w{i}", stats=stats) for i in range(4)
        ]
        stop = anyio.Event()
        async with anyio.create_task_group() as tg:
            tg.start_soon(run_producers, producers, stop)
            for n in range(scale(10, 100)):
                await anyio.sleep(rng.uniform(0.05, 0.3))
                killed = server.command("CLIENT", "KILL", *args)
                history.fault("CLIENT KILL", by=kill, n=n, killed=killed)
            await anyio.sleep(0.3)
            stop.set()
    read_back(server, STREAM, history)
    history.notes.update(stats.as_notes())
    verdict = check(history)
    verdict.assert_guarantee(lost=0, duplicates=0, phantoms=0, min_acknowledged=100)
    assert any(f.params["killed"] for f in history.faults), "no connection was ever killed"
    assert set(stats.errors) <= {"ConnectionFailedError"}, stats.errors
    # Every message got through within the 2 s reconnect budget (R4).
    assert max(stats.latencies) <= 2.0, history.notes


async def test_f8_latency_200ms_no_false_failures(
    chaos_server: Callable[..., RedisServer], history: History, chaos_seed: int
) -> None:
    server = chaos_server()
    stats = ProducerStats()
    with FaultProxy(server.address, seed=chaos_seed) as proxy:
        history.fault("latency", ms=200, jitter_ms=50, direction="down")
        proxy.set_latency(200, jitter_ms=50, direction="down")
        # Default SDK timeouts (5 s command timeout).
        async with make_client(proxy.host, proxy.port, command_timeout=5.0) as client:
            producers = [
                StreamProducer(client, STREAM, history, producer=f"w{i}", stats=stats)
                for i in range(8)
            ]
            stop = anyio.Event()
            async with anyio.create_task_group() as tg:
                tg.start_soon(run_producers, producers, stop)
                await anyio.sleep(scale(4.0, 60.0))
                stop.set()
    read_back(server, STREAM, history)
    history.notes.update(stats.as_notes())
    verdict = check(history)
    verdict.assert_guarantee(lost=0, duplicates=0, phantoms=0, min_acknowledged=50)
    assert stats.errors == {}, f"false failures under 200 ms latency: {stats.errors}"
    assert not verdict.ambiguous
    assert min(stats.latencies) >= 0.14, history.notes  # the latency really applied


async def test_f9_fragmented_resp_is_byte_identical(
    chaos_server: Callable[..., RedisServer], history: History, chaos_seed: int
) -> None:
    server = chaos_server()
    rng = rng_for(chaos_seed, "f9")
    payloads: dict[int, bytes] = {}

    def payload(n: int) -> bytes:
        if n not in payloads:
            size = rng.choice([0, 1, 2, 7, 64, 500, 4096, 70_000])
            body = rng.randbytes(size)
            payloads[n] = b"\r\n$*" + body + b"\r\n"
        return payloads[n]

    stats = ProducerStats()
    entries: list[list[object]] = []
    readback_error: BaseException | None = None
    page_seconds: list[float] = []
    with FaultProxy(server.address, seed=chaos_seed) as proxy:
        size = rng.randint(1, 7)
        history.fault("slicer", size=size, delay_ms=0, direction="both")
        proxy.set_slicer(size, direction="both")
        async with make_client(proxy.host, proxy.port, command_timeout=10.0) as client:
            producer = StreamProducer(client, STREAM, history, payload=payload, stats=stats)
            for seq in range(1, scale(60, 2000) + 1):
                await producer.send(seq)
            # Read back through the fragmenting proxy as well, a page at a time so that every
            # reply stays well under the command timeout (2000 entries are ~19 MB).
            try:
                entries = await _xrange_pages(client, STREAM, F9_PAGE, page_seconds)
            except RedisError as exc:
                readback_error = exc
    history.notes.update(stats.as_notes())
    history.notes["readback_pages"] = len(page_seconds)
    history.notes["readback_page_max_s"] = round(max(page_seconds, default=0.0), 3)
    history.notes["readback_via_proxy"] = (
        f"failed: {type(readback_error).__name__}: {readback_error}"
        if readback_error is not None
        else f"{len(entries)} entries"
    )
    # What the server stored decides lost / duplicates, whatever happened to the read-back.
    stored = read_back(server, STREAM, history)
    verdict = check(history)
    verdict.assert_guarantee(lost=0, duplicates=0, phantoms=0, min_acknowledged=60)
    mismatched = [
        mid for mid, got in stored.items() if got != [payloads[int(mid.rsplit("-", 1)[1])]]
    ]
    assert not mismatched, f"payloads altered in transit: {mismatched[:5]}"
    assert readback_error is None, (
        f"read-back through the slicer failed (a read-back failure, not a loss: the server "
        f"holds all {len(stored)} entries byte-identical): {history.notes['readback_via_proxy']}"
    )
    via_proxy = {bytes(f[b"mid"]).decode(): bytes(f[b"p"]) for _id, f in _pairs(entries)}
    assert via_proxy == {mid: got[0] for mid, got in stored.items()}


async def _xrange_pages(
    client: AsyncClient, stream: str, count: int, page_seconds: list[float]
) -> list[list[object]]:
    """``XRANGE`` the whole stream in pages of ``count``, each from just after the last id."""
    entries: list[list[object]] = []
    start = "-"
    while True:
        t0 = time.monotonic()
        try:
            page = await client.execute("XRANGE", stream, start, "+", "COUNT", count)
        finally:
            page_seconds.append(time.monotonic() - t0)  # the failed page too
        if not page:
            return entries
        entries.extend(page)
        last = page[-1][0]
        start = "(" + (last.decode() if isinstance(last, bytes) else str(last))
        if len(page) < count:
            return entries


def _pairs(entries: list[list[object]]) -> list[tuple[object, dict[bytes, bytes]]]:
    out: list[tuple[object, dict[bytes, bytes]]] = []
    for entry_id, fields in entries:
        if isinstance(fields, dict):
            out.append((entry_id, fields))
        else:
            assert isinstance(fields, list)
            out.append((entry_id, dict(zip(fields[::2], fields[1::2], strict=True))))
    return out
