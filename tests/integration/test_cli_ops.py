"""`rfsdk config render`, `doctor`, `capacity` and `monitor --once` as a user runs them."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
from typer.testing import CliRunner

from redis_fintech_sdk.cli._app import build_app
from redis_fintech_sdk.connection import Client
from redis_fintech_sdk.testing import RedisServer

runner = CliRunner()


def test_config_render_writes_a_bundle(tmp_path: Path) -> None:
    result = runner.invoke(build_app(), ["config", "render", "sentinel", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    names = {p.name for p in tmp_path.iterdir()}
    assert {
        "docker-compose.yml",
        "sentinel.conf",
        "redis-primary.conf",
        "users.acl",
        ".env",
    } <= names
    for secret in (".env", "users.acl"):
        assert stat.S_IMODE((tmp_path / secret).stat().st_mode) == 0o600
    # A second render refuses to overwrite secrets silently.
    again = runner.invoke(build_app(), ["config", "render", "sentinel", "--out", str(tmp_path)])
    assert again.exit_code == 2
    assert "--force" in again.output
    bad = runner.invoke(build_app(), ["config", "render", "nope", "--out", str(tmp_path)])
    assert bad.exit_code == 2


def test_doctor_json_and_exit_codes(redis_server: RedisServer) -> None:
    # The shared session server has no auth and no persistence: errors, exit code 1.
    result = runner.invoke(build_app(), ["doctor", redis_server.url, "--json", "--no-kernel"])
    assert result.exit_code == 1, result.output
    report = json.loads(result.output)
    codes = {f["code"]: f["severity"] for f in report["findings"]}
    assert codes["auth.none"] == "error"
    assert codes["persistence.none"] == "error"
    assert report["summary"]["error"] >= 2
    assert all(f["fix"] for f in report["findings"])
    human = runner.invoke(build_app(), ["doctor", redis_server.url, "--no-kernel"])
    assert human.exit_code == 1
    assert "auth.none" in human.output
    unreachable = runner.invoke(build_app(), ["doctor", "redis://127.0.0.1:1", "--json"])
    assert unreachable.exit_code == 2
    assert "error" in json.loads(unreachable.output)


def test_doctor_clean_server_exits_zero(redis_binary: object) -> None:
    good = [
        "maxmemory 64mb",
        "timeout 300",
        "latency-monitor-threshold 100",
        "client-output-buffer-limit pubsub 32mb 8mb 60",
    ]
    with RedisServer(
        redis_binary,  # type: ignore[arg-type]
        password="a-long-password-for-tests",
        appendonly=True,
        save="3600 1",
        debug_command=False,
        extra_config=good,
    ) as server:
        url = f"redis://:a-long-password-for-tests@127.0.0.1:{server.port}"
        result = runner.invoke(build_app(), ["doctor", url, "--json", "--no-kernel"])
        warn = runner.invoke(build_app(), ["doctor", url, "--fail-on", "warning", "--no-kernel"])
    assert result.exit_code == 0, result.output
    assert "a-long-password" not in result.output
    assert warn.exit_code == 1  # tls.off is a warning


def test_capacity_json() -> None:
    args = [
        "capacity",
        "--rate",
        "2000",
        "--size",
        "400",
        "--fanout",
        "5",
        "--retention",
        "3600",
        "--compression",
        "0.5",
        "--json",
    ]
    result = runner.invoke(build_app(), args)
    assert result.exit_code == 0, result.output
    est = json.loads(result.output)
    assert est["retained_entries"] == 7_200_000
    assert est["frame_bytes"] == 320
    table = runner.invoke(build_app(), args[:-1])
    assert "recommended maxmemory" in table.output
    assert runner.invoke(build_app(), [*args[:-2], "0", "--json"]).exit_code == 2


def test_monitor_once_renders_a_live_server(redis_server: RedisServer) -> None:
    with Client.from_url(redis_server.url) as client:
        client.redis.xadd("mon:trades", {"a": 1})
        client.redis.xgroup_create("mon:trades", "mon-settle", id="0")
        pubsub = client.pubsub()
        try:
            pubsub.subscribe("mon.market.price.AAPL")
            pubsub.get_message(timeout=1.0)
            for _ in range(3):
                client.redis.publish("mon.market.price.AAPL", b"tick")
            result = runner.invoke(
                build_app(),
                [
                    "monitor",
                    redis_server.url,
                    "--once",
                    "--interval",
                    "0.2",
                    "--streams",
                    "mon:trades",
                ],
                env={"COLUMNS": "160"},
            )
        finally:
            pubsub.close()
            client.redis.delete("mon:trades")
    assert result.exit_code == 0, result.output
    out = result.output
    for expected in (
        "mon.market.price.AAPL",
        "mon:trades",
        "mon-settle",
        "PUBLISH",
        "slow log",
        "memory used",
        redis_server.url.split("//")[1],
    ):
        assert expected in out, expected


@pytest.mark.parametrize("url", ["redis://127.0.0.1:1"])
def test_monitor_unreachable(url: str) -> None:
    result = runner.invoke(build_app(), ["monitor", url, "--once"])
    assert result.exit_code == 2
