"""Fixtures of the chaos suite: seeds, histories, private servers that tests may kill.

* Every test here is marked ``chaos`` (and ``slow``).
* ``RFSDK_CERTIFY=1`` switches :func:`scale` to the full (certify) counts.
* ``RFSDK_CHAOS_SEED=<n>`` replays a run; otherwise each test draws a seed and prints it.
* ``RFSDK_CHAOS_RESULTS=<path>`` appends one JSON line per test (verdict, seed, schedule,
  Redis version) — ``scripts/certify.py`` builds its report from these lines.
"""

from __future__ import annotations

import json
import os
import secrets
import time
from collections.abc import Callable, Generator, Iterator
from pathlib import Path
from typing import Any

import pluggy
import pytest

from redis_fintech_sdk.testing import RedisBinary, RedisServer
from redis_fintech_sdk.testing.checker import History, check

from ._harness import CERTIFY, scale

HERE = Path(__file__).parent

__all__ = ["scale"]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if HERE in Path(item.path).parents:
            item.add_marker(pytest.mark.chaos)
            item.add_marker(pytest.mark.slow)


_OUTCOME = pytest.StashKey[str]()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pluggy.Result[pytest.TestReport], None]:
    outcome = yield
    report = outcome.get_result()
    if report.when == "call":
        item.stash[_OUTCOME] = report.outcome


@pytest.fixture
def chaos_seed() -> int:
    """The scenario seed: ``RFSDK_CHAOS_SEED`` or a fresh random one (always printed)."""
    fixed = os.environ.get("RFSDK_CHAOS_SEED")
    seed = int(fixed) if fixed else secrets.randbelow(2**32)
    print(f"chaos seed: {seed} (replay with RFSDK_CHAOS_SEED={seed})")
    return seed


@pytest.fixture
def history(request: pytest.FixtureRequest, chaos_seed: int) -> Iterator[History]:
    """A fresh :class:`History`; its verdict is printed (and exported) when the test ends."""
    hist = History(request.node.nodeid.split("::", 1)[-1], seed=chaos_seed)
    hist.notes["tier"] = "certify" if CERTIFY else "ci"
    started = time.monotonic()
    yield hist
    hist.notes["duration_s"] = round(time.monotonic() - started, 2)
    verdict = check(hist)
    print(verdict.report())
    out = os.environ.get("RFSDK_CHAOS_RESULTS")
    if out:
        record = verdict.as_dict()
        record["nodeid"] = request.node.nodeid
        record["outcome"] = request.node.stash.get(_OUTCOME, "error")
        with open(out, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(record, default=str) + "\n")


@pytest.fixture
def chaos_server(
    redis_binary: RedisBinary, history: History
) -> Iterator[Callable[..., RedisServer]]:
    """Start private servers the test may kill, pause or restart; all stopped at the end."""
    servers: list[RedisServer] = []

    def start(**options: Any) -> RedisServer:
        server = RedisServer(redis_binary, **options)
        servers.append(server)
        server.start()
        history.notes["redis_version"] = redis_binary.version_string
        return server

    try:
        yield start
    finally:
        for server in servers:
            if server.paused:
                server.resume()
            server.stop()
        assert all(not s.running for s in servers)


__all__ += ["chaos_seed", "chaos_server", "history"]
