"""Every runnable example in examples/ runs to completion (they start their own servers)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = sorted((Path(__file__).resolve().parents[2] / "examples").glob("*.py"))

# Lines an example must print, beyond running to completion (by file stem).
EXPECTED_OUTPUT: dict[str, list[str]] = {
    "market_depth": [
        "desk book: seq=120 gaps=1 resyncs=1",
        "desk book equals the feed's book: True",
        "late joiner: seq=120 from the stored snapshot (updates replayed: 0), equal: True",
        "market event on market.events.XNAS.AAPL: halt (LUDP)",
        "stored status of AAPL: halt",
        "dashboard (conflated): AAPL 189.49/189.50, MSFT 410.49/410.50; 98 older ticks replaced",
        "portfolio update: PortfolioUpdate(portfolio_id='P-9', account_id='***'",
    ],
    "near_cache": ["before=b'1.0841' after=b'1.0850'", "hits=4999 misses=2 invalidations=1"],
    "request_reply": [
        "quotes: {",
        "service error: LookupError",
        "no responder on rpc.fx",
        "remote_errors=1",
    ],
}

# Text an example must never print (the secrets it uses).
NEVER_PRINTED: dict[str, list[str]] = {"market_depth": ["ACC-4471"]}


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_example_runs(path: Path) -> None:
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    proc = subprocess.run(
        [sys.executable, str(path)],
        capture_output=True,
        text=True,
        timeout=180,
        env=env,
        check=False,
    )
    assert proc.returncode == 0, f"{path.name} failed:\n{proc.stdout}\n{proc.stderr}"
    assert proc.stdout.strip(), f"{path.name} printed nothing"
    for line in EXPECTED_OUTPUT.get(path.stem, []):
        assert line in proc.stdout, f"{path.name} did not print {line!r}:\n{proc.stdout}"
    for secret in NEVER_PRINTED.get(path.stem, []):
        assert secret not in proc.stdout + proc.stderr, f"{path.name} printed a secret"
