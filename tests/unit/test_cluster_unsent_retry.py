"""The async cluster client retries a command redis-py failed to write (closed writer).

redis-py 8.1 disconnects all of a node's connections while re-initialising the slot map
after a failover, including one another task is about to write on; that task fails with
``AttributeError: 'NoneType' object has no attribute 'writelines'`` before sending a byte
(seen in F17 at certify counts, about one run in eight). Only that exact failure is retried.
"""

from __future__ import annotations

from typing import Any

import pytest
from redis.asyncio.cluster import RedisCluster

from redis_fintech_sdk.connection import _cluster_asking as client_module

pytestmark = pytest.mark.anyio

UNSENT = AttributeError("'NoneType' object has no attribute 'writelines'")


def _cluster(
    monkeypatch: pytest.MonkeyPatch, failures: list[BaseException]
) -> list[tuple[Any, ...]]:
    calls: list[tuple[Any, ...]] = []

    async def fake_execute(self: Any, *args: Any, **kwargs: Any) -> Any:
        calls.append(args)
        if failures:
            raise failures.pop(0)
        return b"OK"

    monkeypatch.setattr(RedisCluster, "execute_command", fake_execute)
    return calls


def _client() -> Any:
    cluster = object.__new__(client_module.PairedAskingCluster)
    cluster.nodes_manager = type("NM", (), {"nodes_cache": {}})()
    return cluster


async def test_unsent_command_is_retried_until_it_goes_through(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls = _cluster(monkeypatch, [UNSENT, UNSENT])
    assert await _client().execute_command("SET", "k", "v") == b"OK"
    assert calls == [("SET", "k", "v")] * 3


async def test_retries_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = _cluster(monkeypatch, [UNSENT] * 10)
    with pytest.raises(AttributeError, match="writelines"):
        await _client().execute_command("SET", "k", "v")
    assert len(calls) == client_module._UNSENT_RETRIES + 1


async def test_other_attribute_errors_are_not_retried(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = _cluster(monkeypatch, [AttributeError("'NoneType' object has no attribute 'read'")])
    with pytest.raises(AttributeError, match="read"):
        await _client().execute_command("INCR", "k")
    assert len(calls) == 1  # may have been applied: never sent again
