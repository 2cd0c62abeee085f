# ruff: noqa: PT018
"""The Pub/Sub benchmark keeps working (smoke mode)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from redis_fintech_sdk.testing import RedisServer

ROOT = Path(__file__).resolve().parents[3]


def test_benchmark_smoke(redis_server: RedisServer, capsys: pytest.CaptureFixture[str]) -> None:
    spec = importlib.util.spec_from_file_location("bench_pubsub", ROOT / "benchmarks" / "pubsub.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    assert mod.main(["--smoke", "--url", redis_server.url]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["throughput_sequential"]["sdk_msgs_per_s"] > 0
    assert report["throughput_concurrent_64"]["ratio"] > 0
    assert {(r["subscribers"], r["pattern"]) for r in report["latency"]} == {
        (1, False),
        (1, True),
        (10, False),
        (10, True),
    }
    assert all(r["messages"] > 0 for r in report["latency"])
