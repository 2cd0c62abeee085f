"""Fetch the :class:`DoctorInput` from a live server, then run the rules.

The commands are a sans-I/O generator (:func:`doctor_steps`); :func:`run_doctor` (sync) and
:func:`run_doctor_async` only drive it.
"""

from __future__ import annotations

from collections.abc import Generator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from redis_fintech_sdk.errors import RedisError
from redis_fintech_sdk.observability import snapshot_steps
from redis_fintech_sdk.ops._doctor import DoctorInput, DoctorReport, diagnose
from redis_fintech_sdk.ops._kernel import read_kernel_settings

if TYPE_CHECKING:
    from redis_fintech_sdk.connection import AsyncClient, Client
    from redis_fintech_sdk.settings import ConnectionConfig

__all__ = ["doctor_steps", "is_local", "run_doctor", "run_doctor_async"]

_LOOPBACK = {"127.0.0.1", "localhost", "::1"}


def _text(value: Any) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def is_local(config: ConnectionConfig) -> bool:
    """Whether the server runs on this machine (so its kernel settings can be read here)."""
    if config.unix_socket_path:
        return True
    return config.sentinel is None and config.cluster is None and config.host in _LOOPBACK


def _pairs(reply: Any) -> dict[str, str]:
    if isinstance(reply, dict):
        return {_text(k): _text(v) for k, v in reply.items()}
    items = list(reply or [])
    return {_text(items[i]): _text(items[i + 1]) for i in range(0, len(items) - 1, 2)}


def _flags(reply: Any) -> frozenset[str] | None:
    if isinstance(reply, dict):
        raw = reply.get(b"flags", reply.get("flags"))
    else:
        items = list(reply or [])
        raw = next(
            (items[i + 1] for i in range(0, len(items) - 1, 2) if _text(items[i]) == "flags"), None
        )
    return None if raw is None else frozenset(_text(f) for f in raw)


def doctor_steps(
    *, tls_connection: bool = False, kernel_root: str | Path | None = None
) -> Generator[tuple[Any, ...], Any, DoctorInput]:
    """The commands the doctor needs, as a generator (see :func:`snapshot_steps`).

    Args:
        tls_connection: the connection is TLS.
        kernel_root: read kernel settings under this root (``"/"`` for a local server);
            ``None`` skips them.
    """
    snapshot = yield from snapshot_steps(max_streams=5, slowlog_count=128)
    info = snapshot.info
    config: dict[str, str] = {}
    flags: frozenset[str] | None = None
    cluster_state: str | None = None
    quorum: dict[str, str] | None = None
    if info.mode == "sentinel":
        quorum = {}
        reply = yield ("SENTINEL", "MASTERS")
        if not isinstance(reply, RedisError):
            for master in reply:
                name = _pairs(master).get("name", "")
                answer = yield ("SENTINEL", "CKQUORUM", name)
                quorum[name] = _text(answer)
    else:
        reply = yield ("CONFIG", "GET", "*")
        if not isinstance(reply, RedisError):
            config = _pairs(reply)
        reply = yield ("ACL", "GETUSER", "default")
        if not isinstance(reply, RedisError):
            flags = _flags(reply)
        if int(info.get("cluster_enabled", 0) or 0):
            reply = yield ("CLUSTER", "INFO")
            if not isinstance(reply, RedisError):
                for line in _text(reply).splitlines():
                    if line.startswith("cluster_state:"):
                        cluster_state = line.split(":", 1)[1].strip()
    return DoctorInput(
        info=info,
        config=config,
        default_user_flags=flags,
        slowlog=snapshot.slowlog,
        latency=snapshot.latency,
        kernel=read_kernel_settings(kernel_root) if kernel_root is not None else None,
        tls_connection=tls_connection,
        has_streams=bool(snapshot.streams),
        cluster_state=cluster_state,
        sentinel_quorum=quorum,
    )


def _is_fatal(exc: RedisError) -> bool:
    from redis_fintech_sdk.errors import ConnectionFailedError, RedisTimeoutError

    return isinstance(exc, ConnectionFailedError | RedisTimeoutError)


def run_doctor(client: Client, *, kernel: bool | None = None) -> DoctorReport:
    """Check the server behind ``client`` and return the report.

    Args:
        client: a connected SDK client (use a user with the ``monitor`` role or more).
        kernel: read local kernel settings; by default only when the server is local.

    Raises:
        ConnectionFailedError: the server could not be reached.
        RedisTimeoutError: it did not answer in time.
    """
    config = client.config
    local = is_local(config) if kernel is None else kernel
    steps = doctor_steps(tls_connection=config.tls.enabled, kernel_root="/" if local else None)
    reply: Any = None
    try:
        while True:
            command = steps.send(reply)
            try:
                with client.translate_errors(_text(command[0]).upper()):
                    reply = client.redis.execute_command(*command)  # type: ignore[no-untyped-call]
            except RedisError as exc:
                if _is_fatal(exc):
                    raise
                reply = exc
    except StopIteration as stop:
        return diagnose(stop.value, address=client.address)


async def run_doctor_async(client: AsyncClient, *, kernel: bool | None = None) -> DoctorReport:
    """Asyncio twin of :func:`run_doctor`.

    Raises:
        ConnectionFailedError: the server could not be reached.
        RedisTimeoutError: it did not answer in time.
    """
    config = client.config
    local = is_local(config) if kernel is None else kernel
    steps = doctor_steps(tls_connection=config.tls.enabled, kernel_root="/" if local else None)
    reply: Any = None
    try:
        while True:
            command = steps.send(reply)
            try:
                with client.translate_errors(_text(command[0]).upper()):
                    reply = await client.redis.execute_command(*command)
            except RedisError as exc:
                if _is_fatal(exc):
                    raise
                reply = exc
    except StopIteration as stop:
        return diagnose(stop.value, address=client.address)
