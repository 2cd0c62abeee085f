"""Boot *rendered* config files (not the launcher's own) on loopback ports in temp dirs."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import redis

from redis_fintech_sdk.testing import RedisBinary, _process

BootFn = Callable[..., "RenderedServer"]


class RenderedServer:
    """One redis-server (or Sentinel) running a config file we rendered."""

    def __init__(self, proc: subprocess.Popen[bytes], port: int, directory: Path) -> None:
        self.proc = proc
        self.port = port
        self.dir = directory

    @property
    def log(self) -> str:
        return (self.dir / "server.log").read_text(errors="replace")

    def url(self, user: str | None = None, password: str | None = None) -> str:
        auth = f"{user or ''}:{password}@" if password else ""
        return f"redis://{auth}127.0.0.1:{self.port}"


def free_port() -> int:
    return _process.pick_free_port("127.0.0.1", bus_offset=10000)


@contextmanager
def boot(
    binary: RedisBinary,
    directory: Path,
    conf: str,
    *,
    port: int,
    filename: str = "redis.conf",
    sentinel: bool = False,
    auth: tuple[str | None, str | None] = (None, None),
) -> Iterator[RenderedServer]:
    """Write ``conf`` into ``directory`` and run it; always reaped on exit."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / filename
    path.write_text(conf)
    argv = [str(binary.path), str(path)] + (["--sentinel"] if sentinel else [])
    with (directory / "server.log").open("ab") as log:
        proc = _process.spawn(argv, cwd=directory, log=log)
    server = RenderedServer(proc, port, directory)
    try:
        deadline = time.monotonic() + 15
        while True:
            if proc.poll() is not None:
                pytest.fail(f"redis-server exited ({proc.returncode}):\n{server.log[-2000:]}")
            try:
                with redis.Redis(
                    port=port, username=auth[0], password=auth[1], socket_timeout=1
                ) as probe:
                    if probe.ping():
                        break
            except redis.ConnectionError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"redis-server did not answer:\n{server.log[-2000:]}")
            time.sleep(0.05)
        yield server
    finally:
        _process.reap(proc, grace=5)
        _process.release_port(port)


@pytest.fixture
def boot_rendered() -> Callable[..., object]:
    """The :func:`boot` context manager, for tests in this directory."""
    return boot


@pytest.fixture
def port_factory() -> Callable[[], int]:
    """Free loopback ports (with the cluster bus port + 10000 free too)."""
    return free_port
