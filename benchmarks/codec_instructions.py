"""Codec cost in CPU instructions per message: a host-independent figure (needs valgrind).

    python benchmarks/codec_instructions.py            # ~2 minutes under callgrind
    python benchmarks/codec_instructions.py --workload encode 1000   # what callgrind runs

Wall-clock microseconds move with the host and its neighbours; instruction counts do not.
For each operation (sealed msgpack tick: ``encode_raw``, ``decode(validate=False)``, and the
bare ``msgpack.packb``/``unpackb`` round trip for scale) the script runs the workload twice
under ``valgrind --tool=callgrind`` with different repetition counts and reports the
difference divided by the difference in repetitions: start-up, imports and warm-up cancel.
"""

from __future__ import annotations

import argparse
import importlib.util
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgpack


def _bench_codec() -> Any:
    # benchmarks/codec.py: the same tick and codec settings as the wall-clock benchmark
    spec = importlib.util.spec_from_file_location(
        "rfsdk_bench_codec", Path(__file__).parent / "codec.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its Struct annotations are resolved through it
    spec.loader.exec_module(module)
    return module


OPS = ("encode", "decode", "bare")
_WARM = 200


def workload(op: str, n: int) -> None:
    """Run ``op`` ``n`` times after a warm-up (the process callgrind measures)."""
    bench = _bench_codec()
    tick = bench.TICK_DICT
    codec = bench._codec(bench.MSGPACK, False, True, False)
    frame = codec.encode_raw("md.tick", tick, channel="md:AAPL")
    packed = msgpack.packb(tick)
    fn: Callable[[], object] = {
        "encode": lambda: codec.encode_raw("md.tick", tick, channel="md:AAPL"),
        "decode": lambda: codec.decode(frame, channel="md:AAPL", validate=False),
        "bare": lambda: msgpack.unpackb(msgpack.packb(tick)),
    }[op]
    assert msgpack.unpackb(packed) == codec.decode(frame, channel="md:AAPL", validate=False).payload
    for _ in range(_WARM):
        fn()
    for _ in range(n):
        fn()


def _instructions(op: str, n: int, tmp: Path) -> int:
    out = tmp / f"cg.{op}.{n}"
    proc = subprocess.run(
        [
            "valgrind",
            "--tool=callgrind",
            f"--callgrind-out-file={out}",
            sys.executable,
            __file__,
            "--workload",
            op,
            str(n),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    found = re.search(r"Collected : (\d+)", proc.stderr)
    if found is None:
        raise RuntimeError("callgrind printed no instruction count")
    return int(found.group(1))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workload", nargs=2, metavar=("OP", "N"), help="run one workload")
    parser.add_argument("--low", type=int, default=1_000)
    parser.add_argument("--high", type=int, default=11_000)
    args = parser.parse_args(argv)
    if args.workload:
        op, n = args.workload
        if op not in OPS:
            parser.error(f"OP is one of {', '.join(OPS)}")
        workload(op, int(n))
        return 0
    if shutil.which("valgrind") is None:
        print("valgrind is not installed (apt-get install valgrind)", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as tmp:
        for op in OPS:
            low = _instructions(op, args.low, Path(tmp))
            high = _instructions(op, args.high, Path(tmp))
            per = (high - low) / (args.high - args.low)
            print(f"{op:7} {per:9,.0f} instructions per message")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
