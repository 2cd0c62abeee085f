"""Soak: a bounded run at a steady rate with a random fault at a fixed cadence (R10).

CI runs seconds; certify runs ``RFSDK_SOAK_SECONDS`` (default 1800). Asserts 0 lost, 0
duplicate effects, no fd leak and RSS growth <= 10 % after warm-up.

The memory figures are about the SDK, not about the test: the client and its producers run in
a **child process** (a fresh interpreter) that keeps nothing per message. Every outcome
(attempt, ack, fail, ambiguous) goes to a record file as it happens, and latencies go into a
fixed-size histogram, so the child's RSS and fd count measure the SDK, redis-py and hiredis
under load and faults. The pytest process injects the faults, replays the record file into
the :class:`History` afterwards and checks it. (Run in-process, the history alone grew about
380 bytes per message, which was the whole +47.6 % of the first certify run.)

The child also reports ``tracemalloc`` growth after warm-up by source file, summed for the
SDK, redis-py and the harness, so a failing RSS figure says where Python memory went.
``RFSDK_SOAK_TRACEMALLOC=0`` turns that off; ``RFSDK_SOAK_LEAK_BYTES=N`` makes the child keep
``N`` bytes per acknowledged message, to check that the RSS assertion does fail on a leak.
"""

from __future__ import annotations

import functools
import gc
import json
import os
import re
import subprocess
import sys
import time
import tracemalloc
from array import array
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

import anyio
import pytest

from redis_fintech_sdk.testing import RedisServer
from redis_fintech_sdk.testing.checker import History, check

from ._harness import CERTIFY, ProducerStats, StreamProducer, read_back, rng_for, run_producers
from ._harness import sdk_client as make_client

DURATION = float(os.environ.get("RFSDK_SOAK_SECONDS", "1800" if CERTIFY else "10"))
# Every 2 min in a full soak; shorter soaks (--soak-seconds 60) still get a few faults.
FAULT_EVERY = min(120.0, max(2.0, DURATION / 4)) if CERTIFY else 2.0
RATE = 1000.0 if CERTIFY else 300.0
RSS_GROWTH_MAX = 0.10
STREAM = "chaos:soak"
PRODUCERS = 4


def rss_bytes(pid: int | str = "self") -> int:
    """Resident set size of a process (``VmRSS``), 0 if it is gone."""
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    for line in text.splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def open_fds(pid: int | str = "self") -> int:
    """Open file descriptors of a process."""
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return 0


def test_soak_steady_rate_random_faults(
    chaos_server: Callable[..., RedisServer],
    history: History,
    chaos_seed: int,
    tmp_path: Path,
) -> None:
    server = chaos_server(appendonly=True, appendfsync="always")
    rng = rng_for(chaos_seed, "soak")
    faults = ["kill_restart", "client_kill", "debug_sleep", "sigstop"]
    records = tmp_path / "outcomes.tsv"
    summary_path = tmp_path / "child-summary.json"
    harness_rss_start = rss_bytes()
    config = {
        "host": server.host,
        "port": server.port,
        "rate": RATE,
        "duration": DURATION,
        "records": str(records),
        "summary": str(summary_path),
        "tracemalloc": os.environ.get("RFSDK_SOAK_TRACEMALLOC", "1") not in ("", "0"),
        "leak_bytes": int(os.environ.get("RFSDK_SOAK_LEAK_BYTES", "0")),
    }
    with (tmp_path / "child.log").open("wb") as log:
        child = subprocess.Popen(
            _child_command(config), stdin=subprocess.DEVNULL, stdout=log, stderr=log
        )
        try:
            started = time.monotonic()
            next_fault = started + FAULT_EVERY
            # The child needs a second or two to import; faults stop before it winds down.
            while child.poll() is None:
                now = time.monotonic()
                if now - started > DURATION + 300:
                    pytest.fail("the soak child did not finish in time")
                if now >= next_fault and now - started < DURATION - 1.0:
                    next_fault += FAULT_EVERY
                    kind = rng.choice(faults)
                    history.fault(kind)
                    _inject(server, kind)
                time.sleep(0.2)
        finally:
            if child.poll() is None:
                child.kill()
                child.wait()
    log_tail = (tmp_path / "child.log").read_text(errors="replace")[-4000:]
    assert child.returncode == 0, f"soak child exited with {child.returncode}:\n{log_tail}"
    summary = json.loads(summary_path.read_text())
    replayed = _replay(records, history)
    read_back(server, STREAM, history, keep_payloads=False)

    samples: list[list[float]] = summary["samples"]  # [t, rss, fds] of the child
    warm = [s for s in samples if s[0] >= DURATION / 3] or samples
    rss_start, rss_end = int(warm[0][1]), int(samples[-1][1])
    rss_growth = (rss_end - rss_start) / max(1, rss_start)
    fd_growth = int(samples[-1][2] - samples[0][2])
    history.notes.update(summary["stats"])
    history.notes.update(
        {
            "duration_s": round(samples[-1][0], 1),
            "rate": RATE,
            "records": replayed,
            "rss_start": rss_start,
            "rss_end": rss_end,
            "rss_growth": round(rss_growth, 4),
            "rss_measured": "soak child (SDK client + producers only)",
            "fds_start": int(samples[0][2]),
            "fds_end": int(samples[-1][2]),
            "harness_rss_growth_mb": round((rss_bytes() - harness_rss_start) / 2**20, 1),
        }
    )
    if summary.get("tracemalloc"):
        history.notes["tracemalloc_growth"] = summary["tracemalloc"]
    verdict = check(history)
    verdict.assert_guarantee(lost=0, duplicates=0, phantoms=0, min_acknowledged=100)
    assert history.faults, "no fault was injected"
    assert fd_growth <= 2, history.notes  # pool connections may be open or not at the end
    assert rss_growth <= RSS_GROWTH_MAX, history.notes


def _inject(server: RedisServer, kind: str) -> None:
    if kind == "kill_restart":
        server.kill()
        time.sleep(0.2)
        server.restart()
    elif kind == "client_kill":
        server.command("CLIENT", "KILL", "TYPE", "normal")
    elif kind == "debug_sleep":
        server.command("DEBUG", "SLEEP", "1.5", timeout=10)
    else:
        server.pause()
        try:
            time.sleep(1.5)
        finally:
            server.resume()


def _replay(records: Path, history: History) -> int:
    """Feed the child's outcome records into ``history``; return how many there were."""
    n = 0
    with records.open(encoding="utf-8") as fh:
        for line in fh:
            kind, mid, *rest = line.rstrip("\n").split("\t")
            if kind == "A":
                history.attempt(mid, producer=rest[0], seq=int(rest[1]))
            elif kind == "K":
                history.ack(mid)
            elif kind == "F":
                history.fail(mid, rest[0])
            elif kind == "M":
                history.ambiguous(mid, rest[0])
            else:  # pragma: no cover - a torn last line after a crash
                continue
            n += 1
    return n


# -- the child process: the SDK under load, nothing kept per message ----------------------


def _child_command(config: dict[str, Any]) -> list[str]:
    # Importable as this module from a fresh interpreter ("chaos.test_soak" or
    # "tests.chaos.test_soak", depending on how pytest put the tests on sys.path).
    root = Path(__file__).resolve().parents[__name__.count(".")]
    code = (
        f"import sys; sys.path.insert(0, {str(root)!r}); "
        f"from {__name__} import _child_main; _child_main(sys.argv[1])"
    )
    return [sys.executable, "-c", code, json.dumps(config)]


class _RecordingHistory(History):
    """A :class:`History` that writes outcomes to a file instead of keeping them."""

    def __init__(self, out: TextIO) -> None:
        super().__init__("soak child")
        self._out = out

    def attempt(self, msg_id: str, *, producer: str = "", seq: int | None = None) -> None:
        self._out.write(f"A\t{msg_id}\t{producer}\t{seq}\n")

    def ack(self, msg_id: str) -> None:
        self._out.write(f"K\t{msg_id}\n")

    def fail(self, msg_id: str, reason: str = "") -> None:
        self._out.write(f"F\t{msg_id}\t{reason}\n")

    def ambiguous(self, msg_id: str, reason: str = "") -> None:
        self._out.write(f"M\t{msg_id}\t{reason}\n")


class _SoakStats(ProducerStats):
    """Producer statistics in constant memory: a count and a 0.1 ms latency histogram."""

    BUCKETS = 100_000  # 0.1 ms each, up to 10 s

    def __init__(self, leak_bytes: int = 0) -> None:
        super().__init__()
        self.acks = 0
        self.max_latency = 0.0
        self.histogram = array("Q", bytes(8 * self.BUCKETS))
        self.leak_bytes = leak_bytes
        self.leaked: list[bytes] = []

    def acked(self, latency: float) -> None:
        self.acks += 1
        self.max_latency = max(self.max_latency, latency)
        self.histogram[min(self.BUCKETS - 1, int(latency * 10_000))] += 1
        if self.leak_bytes:  # RFSDK_SOAK_LEAK_BYTES: a simulated leak, to test the test
            self.leaked.append(bytes(self.leak_bytes))

    def p99_ms(self) -> float:
        rank = int(self.acks * 0.99)
        seen = 0
        for i, n in enumerate(self.histogram):
            seen += n
            if seen > rank:
                return round((i + 1) / 10, 2)
        return 0.0

    def as_notes(self) -> dict[str, Any]:
        notes = super().as_notes()
        notes["acks"] = self.acks
        notes["max_ms"] = round(self.max_latency * 1000, 2)
        return notes


def _child_main(raw: str) -> None:
    config = json.loads(raw)
    with open(config["records"], "w", encoding="utf-8", buffering=1 << 16) as out:
        summary = anyio.run(functools.partial(_child_run, config, out), backend="asyncio")
    Path(config["summary"]).write_text(json.dumps(summary))


async def _child_run(config: dict[str, Any], out: TextIO) -> dict[str, Any]:
    duration: float = config["duration"]
    trace: bool = config["tracemalloc"]
    if trace:
        tracemalloc.start(1)
    stats = _SoakStats(config["leak_bytes"])
    samples: list[tuple[float, int, int]] = []  # one per second at most: negligible
    warm_stats: dict[str, int] | None = None
    recorder = _RecordingHistory(out)
    async with make_client(config["host"], config["port"], command_timeout=1.0) as client:
        producers = [
            StreamProducer(client, STREAM, recorder, producer=f"w{i}", stats=stats)
            for i in range(PRODUCERS)
        ]
        stop = anyio.Event()
        start = time.monotonic()
        async with anyio.create_task_group() as tg:
            tg.start_soon(functools.partial(run_producers, producers, stop, rate=config["rate"]))
            while (now := time.monotonic()) - start < duration:
                samples.append((now - start, rss_bytes(), open_fds()))
                if trace and warm_stats is None and now - start >= duration / 3:
                    # After the warm-up RSS sample, so the snapshot's own memory can only
                    # add to the growth, never hide it.
                    warm_stats = _traced_by_file()
                out.flush()  # a crash loses at most one interval of records
                await anyio.sleep(min(1.0, duration / 20))
            stop.set()
    out.flush()
    gc.collect()
    samples.append((time.monotonic() - start, rss_bytes(), open_fds()))
    summary: dict[str, Any] = {"samples": samples, "stats": stats.as_notes()}
    if trace and warm_stats is not None:
        summary["tracemalloc"] = _growth(warm_stats, _traced_by_file())
        tracemalloc.stop()
    return summary


def _traced_by_file() -> dict[str, int]:
    snapshot = tracemalloc.take_snapshot()
    by_file = {str(s.traceback[0].filename): s.size for s in snapshot.statistics("filename")}
    del snapshot
    gc.collect()
    return by_file


def _growth(before: dict[str, int], after: dict[str, int]) -> dict[str, Any]:
    """tracemalloc growth by owner (SDK, redis-py, harness, other) and the top files."""
    diff = {f: after.get(f, 0) - before.get(f, 0) for f in set(before) | set(after)}
    owners = {"redis_fintech_sdk": 0, "redis_py": 0, "harness": 0, "other": 0}
    for filename, delta in diff.items():
        norm = filename.replace(os.sep, "/")
        if "/redis_fintech_sdk/" in norm:
            owners["redis_fintech_sdk"] += delta
        elif "/site-packages/redis/" in norm or "/hiredis/" in norm:
            owners["redis_py"] += delta
        elif "/tests/chaos/" in norm:
            owners["harness"] += delta
        else:
            owners["other"] += delta
    top = sorted(diff.items(), key=lambda kv: -abs(kv[1]))[:8]
    return {
        "bytes_by_owner": owners,
        "top_files": {_short(f): d for f, d in top},
    }


def _short(filename: str) -> str:
    norm = filename.replace(os.sep, "/")
    for marker in ("/site-packages/", "/src/", "/tests/"):
        if marker in norm:
            return norm.split(marker, 1)[1]
    return re.sub(r".*/lib/python3\.\d+/", "stdlib:", norm)
