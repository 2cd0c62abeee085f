"""Soak: a bounded run at a steady rate with a random fault at a fixed cadence (R10).

CI runs seconds; certify runs ``RFSDK_SOAK_SECONDS`` (default 1800). Reports RSS growth
after warm-up and open file descriptors; asserts 0 lost, 0 duplicate effects, no fd leak
and RSS growth <= 10 % after warm-up.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

import anyio
import anyio.to_thread
import pytest

from redis_fintech_sdk.testing import RedisServer
from redis_fintech_sdk.testing.checker import History, check

from ._harness import CERTIFY, ProducerStats, StreamProducer, read_back, rng_for, run_producers
from ._harness import sdk_client as make_client

pytestmark = pytest.mark.anyio

DURATION = float(os.environ.get("RFSDK_SOAK_SECONDS", "1800" if CERTIFY else "10"))
FAULT_EVERY = 120.0 if CERTIFY else 2.0
RATE = 1000.0 if CERTIFY else 300.0


def rss_bytes() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


async def test_soak_steady_rate_random_faults(
    chaos_server: Callable[..., RedisServer], history: History, chaos_seed: int
) -> None:
    server = chaos_server(appendonly=True, appendfsync="always")
    rng = rng_for(chaos_seed, "soak")
    stats = ProducerStats()
    samples: list[tuple[float, int, int]] = []
    faults = ["kill_restart", "client_kill", "debug_sleep", "sigstop"]
    async with make_client(server.host, server.port, command_timeout=1.0) as client:
        producers = [
            StreamProducer(client, "chaos:soak", history, producer=f"w{i}", stats=stats)
            for i in range(4)
        ]
        stop = anyio.Event()
        start = time.monotonic()
        async with anyio.create_task_group() as tg:
            tg.start_soon(lambda: run_producers(producers, stop, rate=RATE))
            next_fault = start + FAULT_EVERY
            while (now := time.monotonic()) - start < DURATION:
                samples.append((now - start, rss_bytes(), open_fds()))
                if now >= next_fault:
                    next_fault += FAULT_EVERY
                    kind = rng.choice(faults)
                    history.fault(kind)
                    if kind == "kill_restart":
                        server.kill()
                        await anyio.sleep(0.2)
                        await anyio.to_thread.run_sync(server.restart)
                    elif kind == "client_kill":
                        server.command("CLIENT", "KILL", "TYPE", "normal")
                    elif kind == "debug_sleep":
                        await anyio.to_thread.run_sync(
                            lambda: server.command("DEBUG", "SLEEP", "1.5", timeout=10)
                        )
                    else:
                        server.pause()
                        await anyio.sleep(1.5)
                        server.resume()
                await anyio.sleep(min(1.0, DURATION / 20))
            stop.set()
    samples.append((time.monotonic() - start, rss_bytes(), open_fds()))
    read_back(server, "chaos:soak", history)
    warm = [s for s in samples if s[0] >= DURATION / 3] or samples
    rss_growth = (samples[-1][1] - warm[0][1]) / max(1, warm[0][1])
    fd_growth = samples[-1][2] - samples[0][2]
    history.notes.update(stats.as_notes())
    history.notes.update(
        {
            "duration_s": round(samples[-1][0], 1),
            "rate": RATE,
            "rss_start": warm[0][1],
            "rss_end": samples[-1][1],
            "rss_growth": round(rss_growth, 4),
            "fds_start": samples[0][2],
            "fds_end": samples[-1][2],
        }
    )
    verdict = check(history)
    verdict.assert_guarantee(lost=0, duplicates=0, phantoms=0, min_acknowledged=100)
    assert history.faults, "no fault was injected"
    assert fd_growth <= 2, history.notes  # pool connections may be open or not at the end
    assert rss_growth <= 0.10, history.notes
