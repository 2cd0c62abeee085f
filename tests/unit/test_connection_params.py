"""Config → redis-py arguments: coherent timeouts, TLS, retries, credentials."""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest
import redis.exceptions
from redis.asyncio.retry import Retry as AsyncRetry
from redis.backoff import ExponentialWithJitterBackoff

from redis_fintech_sdk.connection import _params
from redis_fintech_sdk.connection.credentials import (
    RotatingCredentialProvider,
    env_source,
    file_source,
    provider_for,
)
from redis_fintech_sdk.errors import ConfigurationError
from redis_fintech_sdk.settings import (
    ConnectionConfig,
    Credentials,
    RetryConfig,
    Secret,
    SentinelConfig,
    Timeouts,
    TLSConfig,
)


def test_three_timeout_profiles() -> None:
    cfg = ConnectionConfig(timeouts=Timeouts(command=2.0, max_block=30.0, connect=1.0))
    assert _params.socket_timeout(cfg, "command") == 2.0
    assert _params.socket_timeout(cfg, "blocking") == 32.0
    assert _params.socket_timeout(cfg, "pubsub") is None
    kwargs = _params.standalone_kwargs(cfg, "blocking", is_async=False)
    assert kwargs["socket_timeout"] == 32.0
    assert kwargs["socket_connect_timeout"] == 1.0
    assert kwargs["socket_keepalive"] is True


def test_retry_uses_exponential_backoff_with_jitter() -> None:
    cfg = ConnectionConfig(retry=RetryConfig(attempts=4, backoff_base=0.1, backoff_cap=1.0))
    retry = _params.make_retry(cfg, is_async=False)
    assert retry._retries == 4
    assert isinstance(retry._backoff, ExponentialWithJitterBackoff)
    # redis.asyncio connections need the asyncio Retry class, or nothing is ever retried.
    assert isinstance(_params.make_retry(cfg, is_async=True), AsyncRetry)
    assert isinstance(_params.node_kwargs(cfg, "command", is_async=True)["retry"], AsyncRetry)


@pytest.mark.parametrize(
    ("error", "before_send"),
    [
        (
            redis.exceptions.ConnectionError("Error 111 connecting to h:1. Connection refused."),
            True,
        ),
        (redis.exceptions.TimeoutError("Timeout connecting to server"), True),
        (redis.exceptions.ConnectionError("The previous master is now a slave"), True),
        (ConnectionRefusedError(111, "refused"), True),
        (redis.exceptions.TimeoutError("Timeout reading from socket"), False),
        (redis.exceptions.ConnectionError("Connection closed by server."), False),
        (ConnectionResetError(104, "reset"), False),
    ],
)
def test_only_failures_before_send_are_retried(error: Exception, before_send: bool) -> None:
    assert _params.failed_before_send(error) is before_send
    calls: list[int] = []

    def do() -> str:
        calls.append(1)
        if len(calls) == 1:
            raise error
        return "ok"

    retry = _params.make_retry(ConnectionConfig(), is_async=False)
    assert isinstance(retry, _params.SafeRetry)
    if before_send:
        assert retry.call_with_retry(do, lambda _e: None) == "ok"
        assert len(calls) == 2
    else:
        with pytest.raises(type(error)):
            retry.call_with_retry(do, lambda _e: None)
        assert len(calls) == 1
    calls.clear()
    resend = _params.make_retry(
        ConnectionConfig(retry=RetryConfig(resend_after_failure=True)), is_async=False
    )
    assert isinstance(resend, _params.SafeRetry)
    assert resend.call_with_retry(do, lambda _e: None) == "ok"
    assert len(calls) == 2


def test_tls_kwargs(tmp_path: Path) -> None:
    for name in ("ca.pem", "c.pem", "k.pem"):
        (tmp_path / name).write_text("x")
    cfg = ConnectionConfig(
        tls=TLSConfig(
            ca_file=str(tmp_path / "ca.pem"),
            cert_file=str(tmp_path / "c.pem"),
            key_file=str(tmp_path / "k.pem"),
            key_password=Secret("kp"),
            min_version="TLSv1.3",
        )
    )
    kw = _params.tls_kwargs(cfg)
    assert kw["ssl"] is True
    assert kw["ssl_cert_reqs"] == "required"
    assert kw["ssl_check_hostname"] is True
    assert kw["ssl_min_version"] == ssl.TLSVersion.TLSv1_3
    assert kw["ssl_certfile"].endswith("c.pem")
    assert kw["ssl_password"] == "kp"
    assert _params.tls_kwargs(ConnectionConfig()) == {}


def test_sentinel_connections_do_not_inherit_data_node_credentials() -> None:
    cfg = ConnectionConfig(
        credentials=Credentials(username="svc", password=Secret("pw")),
        sentinel=SentinelConfig(sentinels=(("127.0.0.1", 26379),)),
    )
    assert "credential_provider" in _params.node_kwargs(cfg, "command", is_async=False)
    assert "credential_provider" not in _params.sentinel_kwargs(cfg, is_async=False)


def test_static_and_rotating_providers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert provider_for(Credentials()) is None
    static = provider_for(Credentials(username="u", password=Secret("p")))
    assert static is not None
    assert static.get_credentials() == ("u", "p")
    assert "p" not in repr(static).replace("Provider", "")

    secret_file = tmp_path / "pw"
    secret_file.write_text("svc:one\n")
    src = file_source(secret_file)
    provider = RotatingCredentialProvider(src)
    assert provider.get_credentials() == ("svc", "one")
    secret_file.write_text("svc:two\n")
    assert provider.get_credentials() == ("svc", "two")

    monkeypatch.setenv("RFSDK_TEST_PW", "e1")
    env = RotatingCredentialProvider(env_source("RFSDK_TEST_PW", username="svc"))
    assert env.get_credentials() == ("svc", "e1")
    monkeypatch.setenv("RFSDK_TEST_PW", "e2")
    assert env.get_credentials() == ("svc", "e2")
    password_only = RotatingCredentialProvider(lambda: (None, "solo"))
    assert password_only.get_credentials() == ("solo",)


def test_sources_fail_early() -> None:
    with pytest.raises(ConfigurationError) as excinfo:
        file_source("/nonexistent/secret")
    assert excinfo.value.field == "credentials.source"
    with pytest.raises(ConfigurationError):
        env_source("RFSDK_DEFINITELY_UNSET_VARIABLE")


def test_durability_findings() -> None:
    from redis_fintech_sdk.connection.health import durability_findings

    safe = {"appendonly": "yes", "appendfsync": "always", "maxmemory-policy": "noeviction"}
    assert durability_findings(safe) == []
    none = durability_findings({"appendonly": "no", "save": "", "maxmemory-policy": "noeviction"})
    assert len(none) == 1
    assert "appendonly is off" in none[0]
    assert "RDB snapshots are off" in none[0]
    everysec = durability_findings({"appendonly": "yes", "appendfsync": "everysec"})
    assert len(everysec) == 1
    assert "everysec" in everysec[0]
    evict = durability_findings({**safe, "maxmemory-policy": "allkeys-lru"})
    assert len(evict) == 1
    assert "allkeys-lru" in evict[0]
