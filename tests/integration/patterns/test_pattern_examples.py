"""The pattern examples run to completion and show what they promise."""

from __future__ import annotations

import runpy
from pathlib import Path

import pytest

from redis_fintech_sdk.testing import RedisServer

EXAMPLES = Path(__file__).parents[3] / "examples"


def test_notifications_example(
    redis_server: RedisServer, capsys: pytest.CaptureFixture[str]
) -> None:
    module = runpy.run_path(str(EXAMPLES / "notifications.py"))
    assert module["main"](redis_server.url) == 0
    out = capsys.readouterr().out
    fill = "{'in_app': 'delivered', 'email': 'delivered', 'webhook': 'delivered'}"
    assert f"trade fill: delivered {fill}" in out
    assert "same fill again: duplicate" in out
    assert "marketing: category_disabled" in out
    assert "oncall: Margin call on ACC-7" in out
    assert "oncall: Margin call on ACC-8" not in out  # acknowledged in time
    assert "webhook receiver saw: ['notification -> 500', 'notification -> 200']" in out


def test_trade_lifecycle_example(
    redis_server: RedisServer, capsys: pytest.CaptureFixture[str]
) -> None:
    module = runpy.run_path(str(EXAMPLES / "trade_lifecycle.py"))
    assert module["main"](redis_server.url) == 0
    out = capsys.readouterr().out
    assert "confirm T-1001: new=True, again: duplicate=True" in out
    assert "stream entries: 1" in out
    assert "settled: ['T-1001']" in out
    assert "report trigger from scheduler-b: duplicate=True" in out
    assert "risk.alert.critical: rfsdk.risk.alert" in out
    assert "'executions': 1" in out
    assert "'pubsub': 5" in out
