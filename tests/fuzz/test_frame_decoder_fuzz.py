"""B1: coverage-guided fuzzing of the frame decoder (atheris), in a subprocess.

libFuzzer ends the process when it is done, so the target runs as its own interpreter.
CI runs 10^4 inputs; ``RFSDK_CERTIFY=1`` runs 10^6. Without atheris (not on this platform)
the same oracle runs over seeded mutations instead.
"""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

TARGET = Path(__file__).with_name("frame_decoder_target.py")
RUNS = 1_000_000 if os.environ.get("RFSDK_CERTIFY", "") not in ("", "0") else 10_000
HAS_ATHERIS = importlib.util.find_spec("atheris") is not None


def _run(args: list[str], tmp_path: Path, timeout: float) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(TARGET), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=tmp_path,
        check=False,
    )


@pytest.mark.slow
@pytest.mark.skipif(not HAS_ATHERIS, reason="atheris is not installed for this platform")
def test_atheris_frame_decoder_only_codec_errors_escape(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    proc = _run(
        [f"-runs={RUNS}", "-max_len=4096", "-rss_limit_mb=2048", "-timeout=10", str(corpus)],
        tmp_path,
        timeout=280 if RUNS <= 10_000 else 3600,
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-4000:]
    done = re.search(r"Done (\d+) runs", out)
    assert done is not None, out[-2000:]
    assert int(done.group(1)) >= RUNS
    print(f"atheris: {done.group(0)}")


def test_fallback_mutation_fuzzing_only_codec_errors_escape(tmp_path: Path) -> None:
    proc = _run(["--fallback", str(min(RUNS, 10_000))], tmp_path, timeout=280)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-4000:]
    assert "no crash" in proc.stdout
