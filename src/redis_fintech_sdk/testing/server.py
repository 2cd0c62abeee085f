"""`RedisServer`: one private, throw-away redis-server on a free loopback port."""

from __future__ import annotations

import os
import signal
import tempfile
import time
import weakref
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from redis_fintech_sdk.errors import ConfigurationError, RedisError
from redis_fintech_sdk.testing import _process
from redis_fintech_sdk.testing._config import (
    AppendFsync,
    ServerOptions,
    TLSAuthClients,
    TLSFiles,
    render,
)
from redis_fintech_sdk.testing._process import ProcessState
from redis_fintech_sdk.testing._talk import AddressInUse, ServerClientMixin
from redis_fintech_sdk.testing.binaries import RedisBinary, find_redis_server

if TYPE_CHECKING:
    from redis_fintech_sdk.testing.tls import TLSMaterial

__all__ = ["AppendFsync", "RedisServer", "TLSAuthClients"]

_HOST = "127.0.0.1"


class RedisServer(ServerClientMixin):
    """A private redis-server process on ``127.0.0.1`` for tests.

    Use it as a context manager (``with RedisServer(...) as server:``) or call
    :meth:`start` / :meth:`stop`. Each server gets its own temporary directory (config, log,
    AOF/RDB, ACL and cluster files); :meth:`stop` removes it. The server is always reaped:
    on :meth:`stop`, when the object is garbage collected, and at interpreter exit; on Linux
    it is also SIGKILLed by the kernel if the Python process dies.

    Args:
        binary: the redis-server to run (default: :func:`find_redis_server`).
        port: a fixed port; by default a free one is picked (and re-picked if taken).
        password: ``requirepass`` of the default user.
        acl_users: ACL rules, one user each (``"admin on >pw ~* &* +@all"``; a leading
            ``user`` is optional). Written to an ACL file in the server's directory.
        acl_file: an existing ACL file to use instead of ``acl_users``.
        auth: ``(username, password)`` the launcher itself uses for probes and :meth:`client`;
            by default the default user's password, or the first ACL user with ``+@all``.
        tls: certificates to listen with; the server then accepts TLS only.
        tls_auth_clients: ``"yes"`` (client certificate required), ``"no"`` or ``"optional"``.
        appendonly: enable the AOF.
        appendfsync: ``"always"``, ``"everysec"`` or ``"no"``.
        save: RDB save points; ``""`` (default) disables RDB snapshots.
        replica_of: a primary server (or ``(host, port)``) to replicate from.
        cluster: run in cluster mode (``cluster-enabled yes``, config file in its directory).
        cluster_node_timeout_ms: ``cluster-node-timeout`` in cluster mode.
        debug_command: allow ``DEBUG`` from loopback (``enable-debug-command local``).
        sentinel: run as a Sentinel (``--sentinel``); put ``sentinel ...`` lines in
            ``extra_config``.
        extra_config: further config directives, one per item (``"maxmemory 10mb"``).
        directory: a directory to use (kept on stop) instead of a fresh temporary one.
        startup_timeout: seconds to wait for the server to answer PING.
        stop_timeout: seconds between SIGTERM and SIGKILL on :meth:`stop`.
        start_attempts: how many free ports to try when the chosen one is taken meanwhile.

    Raises:
        ConfigurationError: contradictory options, or a binary that cannot do what is asked
            (e.g. TLS with a build without TLS).
    """

    def __init__(
        self,
        binary: RedisBinary | str | os.PathLike[str] | None = None,
        *,
        port: int | None = None,
        password: str | None = None,
        acl_users: Sequence[str] = (),
        acl_file: str | os.PathLike[str] | None = None,
        auth: tuple[str, str] | None = None,
        tls: TLSMaterial | None = None,
        tls_auth_clients: TLSAuthClients = "yes",
        appendonly: bool = False,
        appendfsync: AppendFsync = "everysec",
        save: str = "",
        replica_of: RedisServer | tuple[str, int] | None = None,
        cluster: bool = False,
        cluster_node_timeout_ms: int = 2000,
        debug_command: bool = True,
        sentinel: bool = False,
        extra_config: Sequence[str] = (),
        directory: str | os.PathLike[str] | None = None,
        startup_timeout: float = 15.0,
        stop_timeout: float = 5.0,
        start_attempts: int = 5,
    ) -> None:
        if binary is None:
            binary = find_redis_server()
        self.binary = binary if isinstance(binary, RedisBinary) else RedisBinary.from_path(binary)
        if tls is not None and not self.binary.supports_tls:
            raise ConfigurationError("tls", f"{self.binary} was built without TLS support")
        primary_auth: tuple[str, str] | None = None
        if isinstance(replica_of, RedisServer):
            primary_auth = replica_of.auth
            replica_of = (replica_of.host, replica_of.port)
        self.options = ServerOptions(
            password=password,
            acl_users=tuple(acl_users),
            acl_file=Path(acl_file) if acl_file is not None else None,
            tls=(
                TLSFiles(tls.server_cert_file, tls.server_key_file, tls.ca_file)
                if tls is not None
                else None
            ),
            tls_auth_clients=tls_auth_clients,
            appendonly=appendonly,
            appendfsync=appendfsync,
            save=save,
            replica_of=replica_of,
            primary_auth=primary_auth,
            cluster=cluster,
            cluster_node_timeout_ms=cluster_node_timeout_ms,
            debug_command=debug_command,
            sentinel=sentinel,
            extra_config=tuple(extra_config),
        )
        self.tls = tls
        self.auth = auth if auth is not None else self.options.admin_credentials()
        self.startup_timeout = startup_timeout
        self.stop_timeout = stop_timeout
        self.start_attempts = max(1, start_attempts)
        self._secrets = self.options.secrets() + ([self.auth[1]] if self.auth else [])
        self._fixed_dir = Path(directory) if directory is not None else None
        self._fixed_port = port
        self._state: ProcessState | None = None
        self._finalizer: weakref.finalize[Any, Any] | None = None
        self._paused = False

    # -- properties ------------------------------------------------------------------------

    @property
    def host(self) -> str:
        """The address the server listens on (always ``127.0.0.1``)."""
        return _HOST

    @property
    def port(self) -> int:
        """The port clients connect to (the TLS port for a TLS server)."""
        state = self._require_state()
        assert state.port is not None
        return state.port

    @property
    def address(self) -> tuple[str, int]:
        """``(host, port)``."""
        return (self.host, self.port)

    @property
    def url(self) -> str:
        """``redis://127.0.0.1:<port>`` or ``rediss://...`` for TLS; never with a password."""
        scheme = "rediss" if self.tls is not None else "redis"
        return f"{scheme}://{self.host}:{self.port}"

    @property
    def pid(self) -> int | None:
        """The pid of the running process, ``None`` when it is not running."""
        proc = self._state.proc if self._state is not None else None
        return proc.pid if proc is not None and proc.poll() is None else None

    @property
    def running(self) -> bool:
        """Whether the process is alive (a paused process counts as running)."""
        return self.pid is not None

    @property
    def dir(self) -> Path:
        """The server's working directory (config, log, AOF, RDB, ACL and cluster files)."""
        return self._require_state().dir

    @property
    def config_path(self) -> Path:
        """The config file the server runs with."""
        return self.dir / ("sentinel.conf" if self.options.sentinel else "redis.conf")

    @property
    def log_path(self) -> Path:
        """The server's log (stdout and stderr of every run, appended)."""
        return self.dir / "redis.log"

    @property
    def version(self) -> tuple[int, int, int]:
        """The ``(major, minor, patch)`` version of the binary."""
        return self.binary.version

    @property
    def password(self) -> str | None:
        """The launcher's password (see ``auth``), for building clients."""
        return self.auth[1] if self.auth else None

    @property
    def username(self) -> str | None:
        """The launcher's username (see ``auth``), for building clients."""
        return self.auth[0] if self.auth else None

    @property
    def users(self) -> dict[str, str]:
        """``{username: password}``: each ACL user's first password, and ``default``'s."""
        return self.options.users()

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> RedisServer:
        """Start the server and wait until it answers PING; a no-op when it is running.

        Raises:
            RedisError: the process exited during startup (the message ends with the log
                tail, passwords removed).
            RedisTimeoutError: it did not answer within ``startup_timeout`` seconds.
        """
        if self.running:
            return self
        if self._state is None:
            owns = self._fixed_dir is None
            directory = self._fixed_dir or Path(tempfile.mkdtemp(prefix="rfsdk-redis-"))
            directory.mkdir(parents=True, exist_ok=True)
            self._state = ProcessState(directory, owns)
            self._finalizer = weakref.finalize(self, self._state.cleanup)
        state = self._state
        for attempt in range(self.start_attempts):
            if state.port is None:
                state.auto_port = self._fixed_port is None
                state.port = self._fixed_port or _process.pick_free_port(
                    _HOST, bus_offset=10000 if self.options.cluster else None
                )
            try:
                self._launch()
                return self
            except AddressInUse:
                if not state.auto_port or attempt == self.start_attempts - 1:
                    raise RedisError(
                        f"port {state.port} is in use", address=f"{_HOST}:{state.port}"
                    ) from None
                _process.release_port(state.port)
                state.port = None
        raise AssertionError("unreachable")  # pragma: no cover

    def stop(self) -> None:
        """Stop the server (SIGTERM, SIGKILL after ``stop_timeout``), reap it, delete its dir.

        Safe to call more than once and on a server that was never started.
        """
        state, self._state = self._state, None
        self._paused = False
        if state is None:
            return
        try:
            if state.proc is not None:
                _process.reap(state.proc, grace=self.stop_timeout)
                state.proc = None
        finally:
            if self._finalizer is not None:
                self._finalizer()  # kills leftovers, releases the port, removes the dir
                self._finalizer = None

    close = stop

    def kill(self) -> None:
        """SIGKILL the server (no shutdown, no AOF flush beyond what it already did).

        Keeps port and directory, so :meth:`restart` brings the same server back.
        """
        state = self._require_state()
        if state.proc is not None:
            _process.reap(state.proc, grace=0, graceful=False)
            state.proc = None
        self._paused = False

    def restart(self) -> RedisServer:
        """Stop (gracefully) if running, then start again on the same port and directory.

        Data persisted in the directory (AOF, RDB, cluster config) is loaded again; returns
        once the server answers PING (after loading).
        """
        state = self._require_state()
        if state.proc is not None:
            _process.reap(state.proc, grace=self.stop_timeout)
            state.proc = None
        self._paused = False
        deadline = time.monotonic() + self.startup_timeout
        while True:
            try:
                self._launch()
                return self
            except AddressInUse:
                # The old socket can linger for a moment; the port is ours, so wait for it.
                if time.monotonic() > deadline:
                    raise RedisError(
                        f"port {self.port} still in use on restart", address=self._addr()
                    ) from None
                time.sleep(0.2)

    def pause(self) -> None:
        """Freeze the process (SIGSTOP): it stops answering but keeps its connections."""
        proc = self._require_state().proc
        if proc is None:
            raise RedisError("server is not running", address=self._addr())
        _process.signal_process(proc, signal.SIGSTOP)
        self._paused = True

    def resume(self) -> None:
        """Continue a paused process (SIGCONT)."""
        proc = self._require_state().proc
        if proc is not None:
            _process.signal_process(proc, signal.SIGCONT)
        self._paused = False

    @property
    def paused(self) -> bool:
        """Whether :meth:`pause` was called without a matching :meth:`resume`."""
        return self._paused

    def __enter__(self) -> RedisServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        where = f"{self.url}" if self._state is not None and self._state.port else "not started"
        return f"<RedisServer {self.binary.version_string} {where} pid={self.pid}>"

    # -- internals -------------------------------------------------------------------------

    def _addr(self) -> str:
        port = self._state.port if self._state is not None else None
        return f"{_HOST}:{port}"

    def _require_state(self) -> ProcessState:
        if self._state is None:
            raise RedisError("server was never started (or was stopped)")
        return self._state

    def _launch(self) -> None:
        state = self._require_state()
        assert state.port is not None
        if self.options.acl_users:
            acl = state.dir / "users.acl"
            acl.write_text("\n".join(self.options.acl_rules()) + "\n")
            acl.chmod(0o600)
        if not (self.options.sentinel and self.config_path.exists()):
            # A sentinel rewrites its own config (it records what it learned): keep it.
            self.config_path.write_text(
                render(
                    self.options,
                    host=_HOST,
                    port=state.port,
                    directory=state.dir,
                    version=self.version,
                )
            )
            self.config_path.chmod(0o600)
        argv = [str(self.binary.path), str(self.config_path)]
        if self.options.sentinel:
            argv.append("--sentinel")
        with self.log_path.open("ab") as log:
            offset = log.tell()
            state.proc = _process.spawn(argv, cwd=state.dir, log=log)
        try:
            self._wait_ready(state.proc, offset)
        except BaseException:
            _process.reap(state.proc, grace=0, graceful=False)
            state.proc = None
            raise

    def _tail(self) -> str:
        return _process.tail(self.log_path, secrets=self._secrets)
