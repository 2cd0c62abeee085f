from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

BENCH = Path(__file__).parents[3] / "benchmarks" / "codec.py"


def _load(path: Path = BENCH, name: str = "rfsdk_bench_codec") -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_benchmark_smoke(capsys: pytest.CaptureFixture[str]) -> None:
    bench = _load()
    assert bench.main(["--smoke"]) == 0
    out = capsys.readouterr().out
    assert "msgpack+aesgcm (raw)" in out
    assert "(pydantic)" in out
    assert "(msgspec)" in out
    assert "orjson" in out
    assert "scaled to a 1.5 us round trip" in out
    rows = bench.run(5, 1, signed=False, out=lambda _line: None)
    # 8 unsigned flag combinations for each message + a pydantic and a Struct row (tick)
    assert len(rows) == 18
    assert all(r["encode_us"] > 0 and r["decode_ratio"] > 0 for r in rows)
    assert {r["message"] for r in rows} == {"tick", "20KB"}


def test_instruction_benchmark_workloads_run() -> None:
    # The callgrind driver itself needs valgrind and minutes; its workloads must keep working.
    module = _load(BENCH.with_name("codec_instructions.py"), "rfsdk_bench_instr")
    for op in module.OPS:
        assert module.main(["--workload", op, "5"]) == 0
    with pytest.raises(SystemExit):
        module.main(["--workload", "nope", "5"])
