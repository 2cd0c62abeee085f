from __future__ import annotations

import pickle
from pathlib import Path

import pytest

from redis_fintech_sdk.errors import ConfigurationError
from redis_fintech_sdk.settings import (
    ClusterConfig,
    ConnectionConfig,
    Credentials,
    PoolLimits,
    RedisSettings,
    RetryConfig,
    Secret,
    SentinelConfig,
    Timeouts,
    TLSConfig,
)


def _field_of(excinfo: pytest.ExceptionInfo[ConfigurationError]) -> str:
    return excinfo.value.field


@pytest.mark.parametrize(
    ("make", "field"),
    [
        (lambda: ConnectionConfig.from_url("http://localhost:6379"), "url"),
        (lambda: ConnectionConfig.from_url("redis://localhost:99999"), "url"),
        (lambda: ConnectionConfig(port=0), "port"),
        (lambda: ConnectionConfig(port=70000), "port"),
        (lambda: ConnectionConfig(db=-1), "db"),
        (lambda: ConnectionConfig.from_url("redis://h:1/abc"), "db"),
        (lambda: TLSConfig(ca_file="/nonexistent/ca.pem"), "tls.ca_file"),
        (
            lambda: TLSConfig(cert_file="/nonexistent/c.pem", key_file="/nonexistent/k"),
            "tls.cert_file",
        ),
        (lambda: TLSConfig(min_version="TLSv1.1"), "tls.min_version"),  # type: ignore[arg-type]
        (
            lambda: ConnectionConfig(
                sentinel=SentinelConfig(sentinels=(("h", 1),)),
                cluster=ClusterConfig(startup_nodes=(("h", 2),)),
            ),
            "sentinel",
        ),
        (lambda: Timeouts(command=-1), "timeouts.command"),
        (lambda: Timeouts(connect=0), "timeouts.connect"),
        (lambda: Timeouts(max_block=float("nan")), "timeouts.max_block"),
        (lambda: PoolLimits(max_connections=0), "pool.max_connections"),
        (lambda: RetryConfig(attempts=-1), "retry.attempts"),
        (lambda: RetryConfig(backoff_base=1.0, backoff_cap=0.5), "retry.backoff_cap"),
        (lambda: SentinelConfig(sentinels=()), "sentinel.sentinels"),
        (lambda: SentinelConfig(sentinels=(("h", 0),)), "sentinel.sentinels"),
        (lambda: ClusterConfig(startup_nodes=(("", 1),)), "cluster.startup_nodes"),
        (lambda: ConnectionConfig(cluster=ClusterConfig(startup_nodes=(("h", 1),)), db=2), "db"),
        (lambda: ConnectionConfig.from_url("redis://h:1/0?frobnicate=1"), "url"),
        (lambda: ConnectionConfig(client_name="has space"), "client_name"),
    ],
)
def test_bad_values_name_their_field(make: object, field: str) -> None:
    with pytest.raises(ConfigurationError) as excinfo:
        make()  # type: ignore[operator]
    assert _field_of(excinfo) == field
    assert str(excinfo.value).startswith(f"{field}:")
    assert isinstance(excinfo.value, ValueError)


def test_key_file_without_cert_is_refused(tmp_path: Path) -> None:
    key = tmp_path / "k.pem"
    key.write_text("x")
    with pytest.raises(ConfigurationError) as excinfo:
        TLSConfig(key_file=str(key))
    assert excinfo.value.field == "tls.key_file"


def test_configs_are_frozen_and_keyword_only() -> None:
    cfg = ConnectionConfig()
    with pytest.raises(AttributeError):
        cfg.port = 1  # type: ignore[misc]
    with pytest.raises(TypeError):
        ConnectionConfig("localhost")  # type: ignore[call-arg]


def test_from_url_parses_everything_and_hides_the_password() -> None:
    cfg = ConnectionConfig.from_url("rediss://svc%40x:p%40ss@cache.internal:6380/3?protocol=3")
    assert (cfg.host, cfg.port, cfg.db, cfg.protocol) == ("cache.internal", 6380, 3, 3)
    assert cfg.tls.enabled
    assert cfg.credentials.username == "svc@x"
    assert cfg.credentials.password == Secret("p@ss")
    text = repr(cfg) + str(cfg)
    assert "p@ss" not in text
    assert "***" in text


def test_unix_url() -> None:
    cfg = ConnectionConfig.from_url("unix:///run/redis.sock?db=2")
    assert cfg.unix_socket_path == "/run/redis.sock"
    assert cfg.db == 2
    assert cfg.address == "/run/redis.sock"


def test_secret_never_shows_and_refuses_pickle() -> None:
    s = Secret("hunter2")
    assert "hunter2" not in repr(s) + str(s) + f"{s}"
    assert s.reveal() == "hunter2"
    with pytest.raises(TypeError):
        pickle.dumps(s)
    tls = TLSConfig(key_password="topsecret")  # type: ignore[arg-type]
    assert isinstance(tls.key_password, Secret)
    assert "topsecret" not in repr(tls)


def test_timeouts_are_coherent() -> None:
    t = Timeouts(command=2.0, max_block=30.0)
    assert t.blocking_socket_timeout == 32.0
    t.check_block(30.0)
    with pytest.raises(ConfigurationError):
        t.check_block(31.0)


def test_tls_files_imply_enabled(tmp_path: Path) -> None:
    ca = tmp_path / "ca.pem"
    ca.write_text("x")
    assert TLSConfig(ca_file=str(ca)).enabled


def test_verify_off_requires_hostname_check_off() -> None:
    with pytest.raises(ConfigurationError) as excinfo:
        TLSConfig(enabled=True, verify=False)
    assert excinfo.value.field == "tls.check_hostname"
    assert not TLSConfig(enabled=True, verify=False, check_hostname=False).verify


def test_credentials_source_exclusive() -> None:
    with pytest.raises(ConfigurationError) as excinfo:
        Credentials(username="u", source=lambda: ("u", "p"))
    assert excinfo.value.field == "credentials.source"
    assert "pw-value" not in repr(Credentials(username="u", password=Secret("pw-value")))


def test_env_loader(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RFSDK_URL", "redis://10.0.0.5:6390/1")
    monkeypatch.setenv("RFSDK_USERNAME", "svc")
    monkeypatch.setenv("RFSDK_PASSWORD", "from-env")
    monkeypatch.setenv("RFSDK_COMMAND_TIMEOUT", "2.5")
    monkeypatch.setenv("RFSDK_SENTINELS", "s1:26379,s2:26380")
    cfg = RedisSettings().to_config()
    assert cfg.port == 6390
    assert cfg.db == 1
    assert cfg.credentials.username == "svc"
    assert cfg.credentials.password is not None
    assert cfg.credentials.password.reveal() == "from-env"
    assert cfg.timeouts.command == 2.5
    assert cfg.topology == "sentinel"
    assert cfg.sentinel is not None
    assert cfg.sentinel.sentinels == (("s1", 26379), ("s2", 26380))


def test_env_loader_bad_value_names_field(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RFSDK_COMMAND_TIMEOUT", "-1")
    with pytest.raises(ConfigurationError) as excinfo:
        RedisSettings().to_config()
    assert excinfo.value.field == "timeouts.command"
    monkeypatch.setenv("RFSDK_COMMAND_TIMEOUT", "1")
    monkeypatch.setenv("RFSDK_CLUSTER_NODES", "nocolon")
    with pytest.raises(ConfigurationError) as excinfo:
        RedisSettings().to_config()
    assert excinfo.value.field == "cluster_nodes"
