"""Rendering, doctor rules (pure), kernel reading and capacity estimates."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from redis_fintech_sdk.errors import ConfigurationError
from redis_fintech_sdk.observability import LatencyEvent, ServerInfo, SlowlogEntry
from redis_fintech_sdk.ops import (
    AclUser,
    CapacityInput,
    DoctorInput,
    KernelSettings,
    SentinelConfOptions,
    Severity,
    TLSPaths,
    diagnose,
    estimate_capacity,
    profile_options,
    read_kernel_settings,
    render_acl_file,
    render_redis_conf,
    render_sentinel_conf,
)


def _directives(text: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            key, _, value = line.partition(" ")
            out.setdefault(key, []).append(value)
    return out


def test_production_conf_has_every_seed_directive() -> None:
    conf = _directives(render_redis_conf(profile_options("production")))
    assert conf["appendonly"] == ["yes"]
    assert conf["appendfsync"] == ["everysec"]
    assert conf["save"] == ['"3600 1 300 100 60 10000"']
    assert conf["aclfile"]
    assert "requirepass" not in conf
    assert conf["bind"] == ["127.0.0.1 -::1"]
    assert conf["protected-mode"] == ["yes"]
    assert conf["maxmemory"] == ["2gb"]
    assert conf["maxmemory-policy"] == ["noeviction"]
    assert conf["timeout"] == ["300"]
    assert conf["tcp-keepalive"] == ["60"]
    assert conf["loglevel"] == ["notice"]
    assert "logfile" in conf
    assert "pubsub 64mb 16mb 60" in conf["client-output-buffer-limit"]
    assert conf["enable-debug-command"] == ["no"]


def test_overrides_and_tls() -> None:
    tls = TLSPaths("/tls/s.crt", "/tls/s.key", "/tls/ca.crt")
    conf = _directives(
        render_redis_conf(profile_options("cluster", port=0, tls=tls, dir="/tmp/x", bind=("::1",)))
    )
    assert conf["port"] == ["0"]
    assert conf["tls-port"] == ["6380"]
    assert conf["tls-auth-clients"] == ["yes"]
    assert conf["tls-cluster"] == ["yes"]
    assert conf["dir"] == ['"/tmp/x"']
    assert conf["cluster-enabled"] == ["yes"]


@pytest.mark.parametrize(
    ("profile", "overrides"),
    [
        ("dev", {"requirepass": "short"}),
        ("production", {"requirepass": "a-long-enough-password"}),  # with aclfile
        ("production", {"port": 0}),  # no TLS
        ("cluster", {"replicaof": ("h", 1)}),
        ("production", {"extra": ("a\nb",)}),
        ("nope", {}),
        ("dev", {"no_such_option": 1}),
    ],
)
def test_bad_options_are_refused(profile: str, overrides: dict[str, object]) -> None:
    with pytest.raises(ConfigurationError):
        profile_options(profile, **overrides)  # type: ignore[arg-type]


def test_acl_file_stores_hashes_only() -> None:
    text = render_acl_file([AclUser("app", "p" * 20), AclUser("svc", "q" * 20, "~svc:* +@read")])
    assert "p" * 20 not in text
    assert f"#{hashlib.sha256(b'p' * 20).hexdigest()}" in text
    assert text.splitlines()[-1].startswith("user default off")
    assert all(line.startswith("user ") for line in text.splitlines())
    with pytest.raises(ConfigurationError):
        AclUser("app", "short")
    with pytest.raises(ConfigurationError):
        AclUser("unknown-role", "x" * 20)


def test_sentinel_conf() -> None:
    text = render_sentinel_conf(
        SentinelConfOptions(
            primary=("10.0.0.1", 6379),
            quorum=2,
            auth_user="sentinel",
            auth_pass="pw" * 10,
            requirepass="s" * 20,
        )
    )
    assert "sentinel monitor mymaster 10.0.0.1 6379 2" in text
    assert "sentinel auth-user mymaster sentinel" in text
    assert f'sentinel sentinel-pass "{"s" * 20}"' in text
    with pytest.raises(ConfigurationError):
        SentinelConfOptions(primary=("h", 1), quorum=0)


def _info(**fields: object) -> ServerInfo:
    base: dict[str, object] = {"redis_version": "7.2.4", "role": "master", "used_memory": 1000}
    base.update(fields)
    return ServerInfo({"server": base})


GOOD = {
    "appendonly": "yes",
    "appendfsync": "everysec",
    "save": "3600 1",
    "protected-mode": "yes",
    "bind": "10.0.0.5 127.0.0.1",
    "maxmemory": "1000000",
    "maxmemory-policy": "noeviction",
    "client-output-buffer-limit": "normal 0 0 0 slave 1 1 60 pubsub 33554432 8388608 60",
    "tcp-keepalive": "60",
    "timeout": "300",
    "latency-monitor-threshold": "100",
    "slowlog-log-slower-than": "10000",
    "tls-port": "6380",
    "tls-protocols": "TLSv1.2 TLSv1.3",
    "tls-auth-clients": "yes",
    "tcp-backlog": "511",
    "loglevel": "notice",
}


def test_a_good_server_has_no_findings() -> None:
    report = diagnose(DoctorInput(info=_info(), config=GOOD, default_user_flags=frozenset({"off"})))
    assert report.findings == ()
    assert report.exit_code() == 0
    assert report.worst() is None


@pytest.mark.parametrize(
    ("change", "code", "severity"),
    [
        ({"bind": "* -::*"}, "bind.all_interfaces", Severity.WARNING),
        ({"maxmemory-policy": "allkeys-lru"}, "memory.evicting_policy", Severity.WARNING),
        ({"appendonly": "no"}, "persistence.rdb_only", Severity.WARNING),
        ({"save": ""}, "persistence.aof_only", Severity.WARNING),
        ({"appendfsync": "no"}, "persistence.fsync_no", Severity.WARNING),
        ({"tls-protocols": "TLSv1.1 TLSv1.2"}, "tls.old_protocols", Severity.WARNING),
        ({"tls-auth-clients": "no"}, "tls.no_client_auth", Severity.INFO),
        ({"loglevel": "debug"}, "logging.debug", Severity.WARNING),
        ({"enable-debug-command": "yes"}, "security.debug_command", Severity.WARNING),
    ],
)
def test_each_rule_fires_alone(change: dict[str, str], code: str, severity: Severity) -> None:
    config = {**GOOD, **change}
    report = diagnose(
        DoctorInput(info=_info(), config=config, default_user_flags=frozenset({"off"}))
    )
    assert [(f.code, f.severity) for f in report.findings] == [(code, severity)]


def test_bind_all_without_auth_is_an_error_and_streams_make_eviction_one() -> None:
    config = {**GOOD, "bind": "0.0.0.0", "maxmemory-policy": "allkeys-lfu"}
    report = diagnose(
        DoctorInput(
            info=_info(),
            config=config,
            default_user_flags=frozenset({"on", "nopass"}),
            has_streams=True,
        )
    )
    assert {"auth.none", "bind.all_interfaces", "memory.evicting_policy"} <= report.codes(
        Severity.ERROR
    )


def test_memory_runtime_and_diagnostics_rules() -> None:
    info = _info(
        used_memory=980_000,
        evicted_keys=3,
        rejected_connections=1,
        master_link_status="down",
        role="slave",
        aof_last_write_status="err",
    )
    slow = [SlowlogEntry(1, 0, 250_000, "KEYS", 2), SlowlogEntry(2, 0, 5, "GET", 2)]
    report = diagnose(
        DoctorInput(
            info=info,
            config=GOOD,
            default_user_flags=frozenset({"off"}),
            slowlog=slow,
            latency=[LatencyEvent("fork", 0, 150, 300)],
            cluster_state="fail",
            sentinel_quorum={"mymaster": "NOQUORUM 1 usable Sentinels"},
        )
    )
    assert {
        "memory.near_limit",
        "replication.link_down",
        "persistence.write_errors",
        "cluster.state",
        "sentinel.quorum",
    } <= report.codes(Severity.ERROR)
    assert {
        "memory.evictions",
        "clients.rejected",
        "slowlog.slow_commands",
        "slowlog.keys_command",
        "latency.spikes",
    } <= report.codes(Severity.WARNING)
    assert report.findings[0].severity is Severity.ERROR  # most severe first
    assert report.exit_code(Severity.WARNING) == 1
    assert report.as_dict()["summary"]["error"] == report.count(Severity.ERROR)


def test_kernel_rules_and_reader(tmp_path: Path) -> None:
    (tmp_path / "proc/sys/vm").mkdir(parents=True)
    (tmp_path / "proc/sys/net/core").mkdir(parents=True)
    (tmp_path / "sys/kernel/mm/transparent_hugepage").mkdir(parents=True)
    (tmp_path / "proc/sys/vm/overcommit_memory").write_text("0\n")
    (tmp_path / "proc/sys/net/core/somaxconn").write_text("128\n")
    (tmp_path / "sys/kernel/mm/transparent_hugepage/enabled").write_text("[always] madvise never\n")
    kernel = read_kernel_settings(tmp_path)
    assert kernel == KernelSettings(0, 128, "always")
    report = diagnose(
        DoctorInput(info=_info(), config=GOOD, default_user_flags=frozenset(), kernel=kernel)
    )
    assert report.codes() == {
        "kernel.overcommit_memory",
        "kernel.somaxconn",
        "kernel.transparent_hugepages",
    }
    assert read_kernel_settings(tmp_path / "missing") == KernelSettings(None, None, None)


def test_capacity_estimates() -> None:
    est = estimate_capacity(
        CapacityInput(
            rate=1000,
            size=1000,
            fanout=10,
            retention_seconds=3600,
            compression_ratio=0.5,
            consumer_groups=2,
            replicas=1,
        )
    )
    assert est.frame_bytes == 500 + 120
    assert est.retained_entries == 3_600_000
    assert est.stream_memory == 3_600_000 * (620 + 60)
    assert est.recommended_maxmemory == int(est.stream_memory * 1.5)
    assert est.ingress_bps == 620_000
    # fan-out to 10 subscribers + 2 groups + 1 replica
    assert est.egress_bps == 1000 * (10 * 660 + 2 * 620) + 620_000
    assert est.pubsub_buffer_per_subscriber == 1000 * 660 * 60
    pubsub_only = estimate_capacity(CapacityInput(rate=10, size=10))
    assert pubsub_only.retained_entries == 0
    assert pubsub_only.aof_growth_bps == 0
    assert pubsub_only.recommended_maxmemory == 64 * 2**20
    with pytest.raises(ConfigurationError):
        CapacityInput(rate=1, size=1, compression_ratio=0)
