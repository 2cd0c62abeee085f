"""`make demo`'s main job: `rfsdk demo` on an embedded server, and the labelled fallback."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest


def _demo(env_extra: dict[str, str]) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, COLUMNS="200", **env_extra)
    return subprocess.run(
        [sys.executable, "-m", "redis_fintech_sdk.cli", "demo", "--messages", "400"],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
    )


def test_demo_on_embedded_server() -> None:
    proc = _demo({})
    out = proc.stdout
    assert proc.returncode == 0, out + proc.stderr
    assert "started an embedded redis-server" in out
    assert "FAKE" not in out
    assert "demo OK" in out
    assert "500 typed ticks" in out  # 400 + 100 latency probes
    assert "the pattern subscriber got 500" in out
    assert "dead letters [(3, 'ValueError')]" in out
    assert "encrypted at rest: True" in out
    assert "embedded redis-server stopped" in out


@pytest.mark.filterwarnings("ignore")
def test_demo_falls_back_to_a_labelled_fake_server() -> None:
    proc = _demo({"RFSDK_REDIS_SERVER": "/nonexistent/redis-server"})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "FALLBACK" in proc.stdout
    assert "FAKE" in proc.stdout
    assert "started an embedded redis-server" not in proc.stdout
