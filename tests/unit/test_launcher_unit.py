"""Pure parts of the launcher: config rendering, credentials, parsing. No server started."""

from __future__ import annotations

from pathlib import Path

import pytest

from redis_fintech_sdk.errors import ConfigurationError, MissingExtraError
from redis_fintech_sdk.testing._config import ServerOptions, TLSFiles, quote, render
from redis_fintech_sdk.testing._process import pick_free_port, release_port, tail
from redis_fintech_sdk.testing._resp import parse_info
from redis_fintech_sdk.testing.cluster import _parse_node

V7 = (7, 0, 15)


def _render(options: ServerOptions, version: tuple[int, int, int] = V7) -> str:
    return render(
        options, host="127.0.0.1", port=23456, directory=Path("/tmp/x y"), version=version
    )


def test_defaults_disable_rdb_and_enable_local_debug() -> None:
    text = _render(ServerOptions())
    assert 'save ""' in text
    assert "port 23456" in text
    assert "bind 127.0.0.1" in text
    assert "enable-debug-command local" in text
    assert 'dir "/tmp/x y"' in text
    assert "appendonly no" in text
    assert "cluster-enabled" not in text


def test_tls_listens_on_tls_port_only() -> None:
    tls = TLSFiles(Path("/c/s.crt"), Path("/c/s.key"), Path("/c/ca.pem"))
    text = _render(ServerOptions(tls=tls, tls_auth_clients="optional"))
    assert "port 0" in text
    assert "tls-port 23456" in text
    assert "tls-auth-clients optional" in text
    assert 'tls-ca-cert-file "/c/ca.pem"' in text


def test_cluster_replica_and_aof_lines() -> None:
    text = _render(ServerOptions(cluster=True, appendonly=True, appendfsync="always"))
    assert "cluster-enabled yes" in text
    assert "cluster-config-file nodes.conf" in text
    assert "appendfsync always" in text
    replica = _render(ServerOptions(replica_of=("127.0.0.1", 1234), primary_auth=("app", "pw")))
    assert "replicaof 127.0.0.1 1234" in replica
    assert 'masteruser "app"' in replica
    assert 'masterauth "pw"' in replica


def test_sentinel_config_has_no_data_directives() -> None:
    text = _render(ServerOptions(sentinel=True, extra_config=("sentinel monitor m 1.2.3.4 1 2",)))
    assert "appendonly" not in text
    assert "save" not in text
    assert text.rstrip().endswith("sentinel monitor m 1.2.3.4 1 2")


@pytest.mark.parametrize(
    "kwargs",
    [
        {"acl_users": ("a on >x +@all",), "acl_file": Path("/x")},
        {"sentinel": True, "cluster": True},
        {"cluster": True, "replica_of": ("127.0.0.1", 1)},
        {"extra_config": ("maxmemory 1mb\nrequirepass x",)},
        {"appendfsync": "sometimes"},
    ],
)
def test_contradictions_are_configuration_errors(kwargs: dict[str, object]) -> None:
    with pytest.raises(ConfigurationError):
        ServerOptions(**kwargs)  # type: ignore[arg-type]


def test_credentials_and_secrets_from_acl_rules() -> None:
    options = ServerOptions(
        acl_users=(
            "reader on >r-pw ~md:* +@read",
            "user admin on >a-pw ~* &* +@all",
            "default off",
        )
    )
    assert options.acl_rules()[0] == "user reader on >r-pw ~md:* +@read"
    assert options.admin_credentials() == ("admin", "a-pw")
    assert options.users() == {"reader": "r-pw", "admin": "a-pw"}
    assert set(options.secrets()) == {"r-pw", "a-pw"}
    assert ServerOptions(password="p").admin_credentials() == ("default", "p")
    assert ServerOptions().admin_credentials() is None


def test_quote_escapes() -> None:
    assert quote('a "b" \\c') == '"a \\"b\\" \\\\c"'


def test_tail_scrubs_secrets(tmp_path: Path) -> None:
    log = tmp_path / "redis.log"
    log.write_text("line one\n>>> 'requirepass hunter2 x'\npassword=abc\n")
    out = tail(log, secrets=["hunter2"])
    assert "hunter2" not in out
    assert "abc" not in out
    assert "line one" in out
    assert tail(tmp_path / "missing.log") == "(no log)"


def test_free_ports_are_not_handed_out_twice() -> None:
    ports = [pick_free_port() for _ in range(20)]
    try:
        assert len(set(ports)) == 20
        assert all(0 < p < 65536 for p in ports)
        bus = pick_free_port(bus_offset=10000)
        ports.append(bus)
        assert bus + 10000 <= 65535
    finally:
        for port in ports:
            release_port(port)


def test_parse_info_and_cluster_nodes() -> None:
    info = parse_info("# Replication\r\nrole:master\r\nconnected_slaves:1\r\n\r\n")
    assert info == {"role": "master", "connected_slaves": "1"}
    line = (
        "07c37dfeb2352 127.0.0.1:30004@40004,host myself,slave e7d1eecce10fd 0 1426238317239 4"
        " connected"
    )
    node = _parse_node(line)
    assert node.role == "slave"
    assert node.port == 30004
    assert node.primary_id == "e7d1eecce10fd"
    assert node.slots == ()
    primary = _parse_node(
        "abc 127.0.0.1:30001@40001 master - 0 0 1 connected 0-5460 5462 [5461->-x]"
    )
    assert primary.slots == ((0, 5460), (5462, 5462))


def test_tls_material_files(tmp_path: Path) -> None:
    pytest.importorskip("trustme")
    from redis_fintech_sdk.testing import TLSMaterial

    with TLSMaterial() as material:
        files = [
            material.ca_file,
            material.server_cert_file,
            material.server_key_file,
            material.client_cert_file,
            material.client_key_file,
            material.other_ca_file,
        ]
        assert all(f.is_file() for f in files)
        assert material.server_key_file.stat().st_mode & 0o077 == 0
        assert material.client_ssl_context().check_hostname
        directory = material.dir
    assert not directory.exists()
    assert issubclass(MissingExtraError, ImportError)
