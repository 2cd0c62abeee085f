"""Connection layer: config → redis-py clients (sync + asyncio; standalone, Sentinel, Cluster)."""

from redis_fintech_sdk.connection._async.client import AsyncClient
from redis_fintech_sdk.connection._sync.client import Client
from redis_fintech_sdk.connection.credentials import (
    RotatingCredentialProvider,
    env_source,
    file_source,
)
from redis_fintech_sdk.connection.errormap import is_connection_failure, map_redis_error
from redis_fintech_sdk.connection.health import HealthReport, PreflightReport, Requirement

__all__ = [
    "AsyncClient",
    "Client",
    "HealthReport",
    "PreflightReport",
    "Requirement",
    "RotatingCredentialProvider",
    "env_source",
    "file_source",
    "is_connection_failure",
    "map_redis_error",
]
