"""A deployable bundle per profile: redis.conf(s), sentinel.conf, users.acl, compose, .env.

``docker-compose.yml`` uses the official ``redis:7.2-alpine`` image with health checks.
Secrets never go into the config files or the compose file: ``users.acl`` holds SHA-256
hashes, and the plain passwords are only in ``.env`` (mode 0600, read by compose for
``${…}`` interpolation and by the applications).
"""

from __future__ import annotations

import secrets as _secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from redis_fintech_sdk.errors import ConfigurationError
from redis_fintech_sdk.ops._conf import (
    AclUser,
    Profile,
    SentinelConfOptions,
    profile_options,
    render_acl_file,
    render_redis_conf,
    render_sentinel_conf,
)
from redis_fintech_sdk.ops._yaml import dump_yaml

__all__ = ["IMAGE", "Bundle", "generate_secrets", "render_bundle"]

IMAGE = "redis:7.2-alpine"
_CONF_DIR = "/usr/local/etc/redis"
# compose interpolation from .env, not a password
_FROM_ENV_REPLICA = "${RFSDK_REPLICA_PASSWORD:?}"
_USERS = {
    "dev": (),
    "production": ("admin", "app", "monitor", "healthcheck"),
    "sentinel": ("admin", "app", "monitor", "healthcheck", "replica", "sentinel"),
    "cluster": ("admin", "app", "monitor", "healthcheck", "replica"),
}


def _env_name(user: str) -> str:
    return f"RFSDK_{user.upper()}_PASSWORD"


def generate_secrets(profile: Profile) -> dict[str, str]:
    """Fresh random passwords for a profile: ``{ENV_VAR: password}``."""
    users = _USERS[profile] or ("redis",)
    return {_env_name(u): _secrets.token_urlsafe(24) for u in users}


@dataclass(frozen=True)
class Bundle:
    """Rendered files of one profile.

    Attributes:
        profile: the profile.
        files: ``{relative path: text}``.
        secret_files: paths among ``files`` that hold secrets (write them 0600, never commit
            them).
    """

    profile: Profile
    files: Mapping[str, str]
    secret_files: frozenset[str] = field(default_factory=frozenset)


def _healthcheck(test: str) -> dict[str, Any]:
    return {
        "test": ["CMD-SHELL", test],
        "interval": "5s",
        "timeout": "3s",
        "retries": 10,
        "start_period": "10s",
    }


def _data_service(
    conf: str, *, port_map: str | None, command_extra: str = "", needs_acl: bool = True
) -> dict[str, Any]:
    volumes = [f"./{conf}:{_CONF_DIR}/redis.conf:ro"]
    if needs_acl:
        volumes.append(f"./users.acl:{_CONF_DIR}/users.acl:ro")
    command = f"exec redis-server {_CONF_DIR}/redis.conf{command_extra}"
    service: dict[str, Any] = {
        "image": IMAGE,
        "command": ["sh", "-c", command],
        "volumes": volumes,
        "restart": "unless-stopped",
        "stop_grace_period": "30s",
        "sysctls": {"net.core.somaxconn": 1024},
        "ulimits": {"nofile": {"soft": 65536, "hard": 65536}},
    }
    if needs_acl:
        service["environment"] = {
            "REDISCLI_AUTH": "${RFSDK_HEALTHCHECK_PASSWORD:?run rfsdk config render first}"
        }
        service["healthcheck"] = _healthcheck(
            "redis-cli --user healthcheck --no-auth-warning ping | grep -q PONG"
        )
    else:
        service["environment"] = {
            "REDISCLI_AUTH": "${RFSDK_REDIS_PASSWORD:?run rfsdk config render first}"
        }
        service["healthcheck"] = _healthcheck("redis-cli --no-auth-warning ping | grep -q PONG")
    if port_map:
        service["ports"] = [port_map]
    return service


def render_bundle(profile: Profile, *, secrets: Mapping[str, str] | None = None) -> Bundle:
    """Render every file a Docker deployment of ``profile`` needs.

    Args:
        profile: ``dev``, ``production``, ``sentinel`` or ``cluster``.
        secrets: ``{ENV_VAR: password}``; fresh ones from :func:`generate_secrets` by default.

    Raises:
        ConfigurationError: unknown profile or a missing secret.
    """
    if profile not in _USERS:
        raise ConfigurationError("profile", f"unknown profile {profile!r}")
    secrets = dict(secrets) if secrets is not None else generate_secrets(profile)
    need = [_env_name(u) for u in (_USERS[profile] or ("redis",))]
    missing = [n for n in need if n not in secrets]
    if missing:
        raise ConfigurationError("secrets", f"missing {', '.join(missing)}")
    files: dict[str, str] = {}
    secret_files = {".env", "users.acl"}
    in_container = {"bind": ("0.0.0.0", "-::*"), "dir": "/data", "logfile": ""}  # noqa: S104
    services: dict[str, Any] = {}
    volumes: dict[str, Any] = {}
    header = (
        f"docker compose file rendered by `rfsdk config render {profile}` (redis_fintech_sdk)\n"
        "Passwords come from .env (written by the same command, mode 0600)."
    )

    if profile == "dev":
        # requirepass is a secret inside redis.conf here: the dev profile trades that for
        # simplicity; production profiles use the hashed ACL file instead.
        conf = profile_options("dev", requirepass=secrets["RFSDK_REDIS_PASSWORD"], **in_container)
        files["redis.conf"] = render_redis_conf(conf)
        secret_files.add("redis.conf")
        services["redis"] = _data_service(
            "redis.conf", port_map="127.0.0.1:6379:6379", needs_acl=False
        )
        services["redis"]["volumes"].append("redis-data:/data")
        volumes["redis-data"] = {}
    else:
        users = [AclUser(u, secrets[_env_name(u)]) for u in _USERS[profile]]
        files["users.acl"] = render_acl_file(users)
    if profile == "production":
        files["redis.conf"] = render_redis_conf(profile_options("production", **in_container))
        services["redis"] = _data_service("redis.conf", port_map="127.0.0.1:6379:6379")
        services["redis"]["volumes"].append("redis-data:/data")
        volumes["redis-data"] = {}
    elif profile == "sentinel":
        files["redis-primary.conf"] = render_redis_conf(profile_options("sentinel", **in_container))
        files["redis-replica.conf"] = render_redis_conf(
            profile_options(
                "sentinel", replicaof=("redis-primary", 6379), masteruser="replica", **in_container
            )
        )
        # Any node may become a replica after a failover, so every node gets the replica
        # credentials (passed on the command line from .env, never written to a file).
        masterauth = ' --masterauth "$$RFSDK_REPLICA_PASSWORD" --masteruser replica'
        for name, conf_file in (
            ("redis-primary", "redis-primary.conf"),
            ("redis-replica", "redis-replica.conf"),
        ):
            service = _data_service(conf_file, port_map=None, command_extra=masterauth)
            service["environment"]["RFSDK_REPLICA_PASSWORD"] = _FROM_ENV_REPLICA
            service["volumes"].append(f"{name}-data:/data")
            volumes[f"{name}-data"] = {}
            if name == "redis-replica":
                service["depends_on"] = {"redis-primary": {"condition": "service_healthy"}}
            services[name] = service
        files["sentinel.conf"] = render_sentinel_conf(
            SentinelConfOptions(
                primary=("redis-primary", 6379),
                bind=("0.0.0.0", "-::*"),  # noqa: S104 - container network
                resolve_hostnames=True,
                auth_user="sentinel",
            )
        )
        # Sentinel rewrites its config: each one copies the template once into its own
        # volume and appends the password from the environment.
        start = (
            "[ -f /data/sentinel.conf ] || { cp /etc/rfsdk/sentinel.conf /data/sentinel.conf"
            ' && printf "sentinel auth-pass mymaster %s\\n" "$$RFSDK_SENTINEL_PASSWORD"'
            " >> /data/sentinel.conf; }; exec redis-sentinel /data/sentinel.conf"
        )
        for i in (1, 2, 3):
            services[f"sentinel-{i}"] = {
                "image": IMAGE,
                "command": ["sh", "-c", start],
                "environment": {"RFSDK_SENTINEL_PASSWORD": "${RFSDK_SENTINEL_PASSWORD:?}"},
                "volumes": [
                    "./sentinel.conf:/etc/rfsdk/sentinel.conf:ro",
                    f"sentinel-{i}-data:/data",
                ],
                "depends_on": {
                    "redis-primary": {"condition": "service_healthy"},
                    "redis-replica": {"condition": "service_healthy"},
                },
                "ports": [f"127.0.0.1:{26378 + i}:26379"],
                "restart": "unless-stopped",
                "healthcheck": _healthcheck("redis-cli -p 26379 ping | grep -q PONG"),
            }
            volumes[f"sentinel-{i}-data"] = {}
    elif profile == "cluster":
        files["redis-cluster.conf"] = render_redis_conf(
            profile_options("cluster", masteruser="replica", **in_container)
        )
        nodes = [f"redis-node-{i}" for i in range(1, 7)]
        for i, name in enumerate(nodes, start=1):
            extra = (
                ' --masterauth "$$RFSDK_REPLICA_PASSWORD"'
                f" --cluster-announce-hostname {name} --cluster-preferred-endpoint-type hostname"
            )
            service = _data_service(
                "redis-cluster.conf", port_map=f"127.0.0.1:{7000 + i}:6379", command_extra=extra
            )
            service["environment"]["RFSDK_REPLICA_PASSWORD"] = _FROM_ENV_REPLICA
            service["volumes"].append(f"{name}-data:/data")
            volumes[f"{name}-data"] = {}
            services[name] = service
        create = (
            "redis-cli -h redis-node-1 --user admin --no-auth-warning cluster info"
            " | grep -q cluster_state:ok"
            " || redis-cli --user admin --no-auth-warning --cluster create "
            + " ".join(f"{n}:6379" for n in nodes)
            + " --cluster-replicas 1 --cluster-yes"
        )
        services["cluster-init"] = {
            "image": IMAGE,
            "command": ["sh", "-c", create],
            "environment": {"REDISCLI_AUTH": "${RFSDK_ADMIN_PASSWORD:?}"},
            "depends_on": {n: {"condition": "service_healthy"} for n in nodes},
            "restart": "no",
        }
    compose: dict[str, Any] = {"name": f"rfsdk-{profile}", "services": services}
    if volumes:
        compose["volumes"] = volumes
    files["docker-compose.yml"] = dump_yaml(compose, header=header)
    files[".env"] = "".join(f"{k}={v}\n" for k, v in sorted(secrets.items()))
    return Bundle(profile=profile, files=files, secret_files=frozenset(secret_files))
