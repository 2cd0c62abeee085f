from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from redis_fintech_sdk.cli import main

ROOT = Path(__file__).resolve().parents[2]


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["version"]) == 0
    assert "redis-fintech-sdk" in capsys.readouterr().out


def test_health_of_refused_server_exits_nonzero(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["health", "redis://u:topsecret@127.0.0.1:1/0", "--json"])
    out = capsys.readouterr().out
    assert code == 1
    report = json.loads(out)
    assert report["reachable"] is False
    assert "127.0.0.1:1" in report["address"]
    assert "topsecret" not in out


def test_bad_url_is_a_clean_error(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["health", "http://localhost"])
    assert code == 2
    assert "unknown scheme" in capsys.readouterr().out


def test_missing_extra_is_one_line() -> None:
    # Simulate an install without typer: block the import and run the entry point.
    code = (
        "import sys; sys.modules['typer'] = None\n"
        "from redis_fintech_sdk.cli import main\n"
        "raise SystemExit(main(['version']))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert proc.returncode == 1
    assert proc.stderr.strip().count("\n") == 0
    assert "pip install 'redis-fintech-sdk[cli]'" in proc.stderr


def test_unasync_twins_are_fresh() -> None:
    proc = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "unasync.py"), "--check"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
