"""The Streams benchmark keeps working (a --smoke run)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]


def test_benchmark_smoke(capsys: pytest.CaptureFixture[str], redis_server: object) -> None:
    spec = importlib.util.spec_from_file_location(
        "bench_streams", ROOT / "benchmarks" / "streams.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.main(["--smoke", "--url", redis_server.url]) == 0  # type: ignore[attr-defined]
    out = capsys.readouterr().out
    assert "consume_2" in out
    assert "latency_p99_ms" in out
