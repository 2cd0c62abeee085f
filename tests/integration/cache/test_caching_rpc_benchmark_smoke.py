"""benchmarks/caching_rpc.py keeps working (smoke mode, on a test server)."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

from redis_fintech_sdk.testing import RedisServer

BENCH = Path(__file__).resolve().parents[3] / "benchmarks" / "caching_rpc.py"


def test_benchmark_smoke(redis_server: RedisServer, capsys: pytest.CaptureFixture[str]) -> None:
    spec = importlib.util.spec_from_file_location("rfsdk_bench_caching_rpc", BENCH)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    assert module.main(["--smoke", "--url", redis_server.url]) == 0
    report = json.loads(capsys.readouterr().out)
    reads = report["reads"]
    assert reads["reads"] == 2_000
    assert reads["raw_get_us"] > 0
    assert reads["near_cache_us"] > 0
    assert 0.5 < reads["hit_ratio"] < 1  # mostly hits, and the writes cost some misses
    assert reads["invalidations"] >= 1
    rpc = report["request_reply"]
    assert rpc["round_trips"] == 50
    assert rpc["raw_p50_us"] > 0
    assert rpc["sdk_p50_us"] > 0
