"""B1: coverage-guided fuzzing of the frame decoder (atheris), in subprocesses.

libFuzzer ends the process when it is done, so the target runs as its own interpreter.
CI runs 10^4 inputs in one process; ``RFSDK_CERTIFY=1`` runs 10^6, split into
``RFSDK_FUZZ_SHARDS`` (default 4) processes with their own seeds and corpora, two at a time,
and sums their run counts; any crash (an exception other than ``CodecError``, a timeout, an
out-of-memory) in any shard fails the test with its output and the crashing input's path.
``RFSDK_FUZZ_RUNS`` / ``RFSDK_FUZZ_SEED`` override the count and the base seed (replay).
Without atheris (not on this platform) the same oracle runs over seeded mutations instead.

Each shard is started through a small launcher interpreter. Linux carries a process's peak
RSS (``ru_maxrss``, which libFuzzer's ``-rss_limit_mb`` reads) across ``fork``/``vfork`` +
``exec``: started straight from a pytest process whose peak RSS had passed 2 GB (the chaos
histories of a certify run), the fuzzer reported ``out-of-memory`` after its first RSS check
without using more than ~90 MB itself. The launcher's own small peak is what the fuzzer
inherits instead.
"""

from __future__ import annotations

import concurrent.futures
import importlib.util
import json
import os
import re
import secrets
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from redis_fintech_sdk.testing.checker import History, check

TARGET = Path(__file__).with_name("frame_decoder_target.py")
CERTIFY = os.environ.get("RFSDK_CERTIFY", "") not in ("", "0")
RUNS = int(os.environ.get("RFSDK_FUZZ_RUNS", "1000000" if CERTIFY else "10000"))
SHARDS = max(1, int(os.environ.get("RFSDK_FUZZ_SHARDS", "4" if CERTIFY else "1")))
PARALLEL = max(1, min(2, os.cpu_count() or 1, SHARDS))
RSS_LIMIT_MB = 2048
HAS_ATHERIS = importlib.util.find_spec("atheris") is not None

# Runs argv[1:] as a child and exits with its status: a fresh, small process to fork from.
_LAUNCHER = (
    "import subprocess, sys\n"
    "try:\n"
    "    sys.exit(subprocess.call(sys.argv[1:]))\n"
    "except KeyboardInterrupt:\n"
    "    sys.exit(130)\n"
)


def _run(args: list[str], cwd: Path, timeout: float) -> subprocess.CompletedProcess[str]:
    """Run the target (through the launcher) in its own session; kill it all on timeout."""
    cmd = [sys.executable, "-c", _LAUNCHER, sys.executable, str(TARGET), *args]
    proc = subprocess.Popen(
        cmd,
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        err += f"\n[test] killed after {timeout:.0f} s"
    return subprocess.CompletedProcess(cmd, proc.returncode, out, err)


@dataclass
class Shard:
    index: int
    seed: int
    runs: int
    returncode: int = -1
    done: int = 0
    peak_rss_mb: int = 0
    start_rss_mb: int = 0
    output: str = ""

    def failure(self) -> str:
        crash = re.findall(r"(?:Test unit|artifact) written to (\S+)", self.output)
        tail = "\n".join(
            line for line in self.output.splitlines() if not line.startswith("INFO: Instrum")
        )[-3000:]
        return (
            f"shard {self.index} (-seed={self.seed}, -runs={self.runs}) exited "
            f"{self.returncode} after {self.done} runs; crashing input: {crash or 'none'}\n"
            f"{tail}"
        )


def _fuzz_shard(shard: Shard, workdir: Path, timeout: float) -> Shard:
    workdir.mkdir(parents=True, exist_ok=True)
    proc = _run(
        [
            f"-runs={shard.runs}",
            f"-seed={shard.seed}",
            "-max_len=4096",
            f"-rss_limit_mb={RSS_LIMIT_MB}",
            "-timeout=10",
            "-print_final_stats=1",
            str(workdir / "corpus"),
        ],
        workdir,
        timeout,
    )
    shard.output = proc.stdout + proc.stderr
    shard.returncode = proc.returncode
    if done := re.search(r"Done (\d+) runs", shard.output):
        shard.done = int(done.group(1))
    if peak := re.search(r"stat::peak_rss_mb:\s+(\d+)", shard.output):
        shard.peak_rss_mb = int(peak.group(1))
    if start := re.search(r"ru_maxrss at start: (\d+) MB", shard.output):
        shard.start_rss_mb = int(start.group(1))
    return shard


def _export(seed: int, shards: list[Shard], outcome: str) -> None:
    """One line for scripts/certify.py's report (same shape as the chaos scenarios)."""
    out = os.environ.get("RFSDK_CHAOS_RESULTS")
    if not out:
        return
    history = History("B1 atheris frame decoder", seed=seed)
    history.notes.update(
        {
            "tier": "certify" if CERTIFY else "ci",
            "redis_version": "n/a",
            "runs": sum(s.done for s in shards),
            "runs_goal": RUNS,
            "shards": [
                {"seed": s.seed, "runs": s.done, "exit": s.returncode, "peak_rss_mb": s.peak_rss_mb}
                for s in shards
            ],
            "rss_limit_mb": RSS_LIMIT_MB,
        }
    )
    record = check(history).as_dict()
    record["nodeid"] = "tests/fuzz/test_frame_decoder_fuzz.py::B1"
    record["outcome"] = outcome
    with open(out, "a", encoding="utf-8") as fh:
        fh.write(json.dumps(record, default=str) + "\n")


@pytest.mark.slow
@pytest.mark.skipif(not HAS_ATHERIS, reason="atheris is not installed for this platform")
def test_atheris_frame_decoder_only_codec_errors_escape(tmp_path: Path) -> None:
    fixed = os.environ.get("RFSDK_FUZZ_SEED")
    seed = int(fixed) if fixed else secrets.randbelow(2**31 - SHARDS)
    print(f"fuzz seed: {seed} (replay with RFSDK_FUZZ_SEED={seed})")
    share, extra = divmod(RUNS, SHARDS)
    shards = [Shard(i, seed + i, share + (1 if i < extra else 0)) for i in range(SHARDS)]
    timeout = 280.0 if RUNS <= 10_000 else 1800.0
    outcome = "failed"
    try:
        with concurrent.futures.ThreadPoolExecutor(PARALLEL) as pool:
            list(pool.map(lambda s: _fuzz_shard(s, tmp_path / f"shard{s.index}", timeout), shards))
        failed = [s for s in shards if s.returncode != 0 or s.done < s.runs]
        assert not failed, "\n\n".join(s.failure() for s in failed)
        total = sum(s.done for s in shards)
        assert total >= RUNS
        outcome = "passed"
        print(
            f"atheris: {total} runs in {SHARDS} shard(s); peak RSS per shard "
            f"{[s.peak_rss_mb for s in shards]} MB (limit {RSS_LIMIT_MB}); "
            f"ru_maxrss at start {[s.start_rss_mb for s in shards]} MB"
        )
    finally:
        _export(seed, shards, outcome)


def test_fallback_mutation_fuzzing_only_codec_errors_escape(tmp_path: Path) -> None:
    proc = _run(["--fallback", str(min(RUNS, 10_000))], tmp_path, timeout=280)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-4000:]
    assert "no crash" in proc.stdout
