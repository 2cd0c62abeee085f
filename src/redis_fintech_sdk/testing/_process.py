"""Process plumbing of the launcher: spawning, reaping, leak protection and free ports.

Every redis-server the launcher starts is registered here until it has been reaped, so that

* an ``atexit`` hook can SIGKILL whatever is left when the interpreter exits normally,
* on Linux the child also gets ``PR_SET_PDEATHSIG`` (SIGKILL) when started from the main
  thread, so even a SIGKILLed test runner leaves no server behind,
* test suites can assert that nothing leaked (:func:`live_server_pids`).
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import ctypes.util
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import IO

from redis_fintech_sdk.errors import redact

_LOCK = threading.Lock()
_LIVE: dict[int, subprocess.Popen[bytes]] = {}
# Ports handed out by this process and not yet released: two servers started back to back
# must never be given the same port just because the first one has not bound it yet.
_RESERVED_PORTS: set[int] = set()

_PR_SET_PDEATHSIG = 1
_PRCTL: Callable[..., int] | None = None
if sys.platform.startswith("linux"):  # pragma: no branch - the suite runs on Linux
    with contextlib.suppress(OSError, AttributeError, TypeError):
        _PRCTL = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True).prctl


def _preexec_with_parent(parent_pid: int) -> Callable[[], None]:
    prctl = _PRCTL

    def _preexec() -> None:  # runs in the child between fork and exec: keep it minimal
        if prctl is not None:
            prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
        if os.getppid() != parent_pid:  # the parent died before prctl took effect
            os._exit(1)

    return _preexec


def spawn(argv: Sequence[str], *, cwd: Path, log: IO[bytes]) -> subprocess.Popen[bytes]:
    """Start ``argv`` in its own process group and register it as live."""
    # PDEATHSIG fires when the *thread* that forked exits, so only arm it from the main
    # thread: a server started from a worker thread must outlive that thread.
    on_main = threading.current_thread() is threading.main_thread()
    preexec = _preexec_with_parent(os.getpid()) if on_main and _PRCTL is not None else None
    proc = subprocess.Popen(  # noqa: S603 - argv is built by the launcher, never by a shell
        list(argv),
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        preexec_fn=preexec,
        close_fds=True,
    )
    with _LOCK:
        _LIVE[proc.pid] = proc
    return proc


def reap(proc: subprocess.Popen[bytes], *, grace: float, graceful: bool = True) -> None:
    """Stop ``proc``: SIGTERM (when ``graceful``), SIGKILL after ``grace`` s, always wait."""
    try:
        if proc.poll() is None:
            # A stopped process ignores SIGTERM until continued.
            _signal_group(proc.pid, signal.SIGCONT)
            if graceful:
                with contextlib.suppress(ProcessLookupError):
                    proc.send_signal(signal.SIGTERM)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.wait(timeout=grace)
            if proc.poll() is None:
                _signal_group(proc.pid, signal.SIGKILL)
                proc.wait(timeout=30)
        # Children it forked (BGSAVE, AOF rewrite) share its process group.
        _signal_group(proc.pid, signal.SIGKILL)
    finally:
        with _LOCK:
            _LIVE.pop(proc.pid, None)


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def signal_process(proc: subprocess.Popen[bytes], sig: signal.Signals) -> None:
    """Send ``sig`` to the process (not its group); no-op when it has already exited."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(sig)


def live_server_pids() -> frozenset[int]:
    """Return the pids of redis-server processes started by this interpreter and still alive.

    A process that exited but has not been reaped yet by its owner is not counted.
    """
    with _LOCK:
        procs = list(_LIVE.values())
    return frozenset(p.pid for p in procs if p.poll() is None)


def kill_all_servers() -> int:
    """SIGKILL and reap every server this interpreter started; return how many were alive."""
    with _LOCK:
        procs = list(_LIVE.values())
    alive = 0
    for proc in procs:
        if proc.poll() is None:
            alive += 1
        reap(proc, grace=0, graceful=False)
    return alive


atexit.register(kill_all_servers)


def _ephemeral_range() -> tuple[int, int]:
    try:
        low, high = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
        return int(low), int(high)
    except (OSError, ValueError):
        return 32768, 60999


def _can_bind(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def pick_free_port(host: str = "127.0.0.1", *, bus_offset: int | None = None) -> int:
    """Return a port that is free now (and, with ``bus_offset``, so is ``port + bus_offset``).

    Ports are drawn below the kernel's ephemeral range, so an outgoing connection of some
    other program cannot grab the port between this check and the server's bind; the port
    stays reserved in this process until :func:`release_port`.
    """
    low, _high = _ephemeral_range()
    top = min(low - 1, 65535 - (bus_offset or 0))
    rng = random.SystemRandom()
    for _ in range(200):
        port = rng.randint(20000, top) if top > 20000 else 0
        if port == 0:
            break
        with _LOCK:
            if port in _RESERVED_PORTS:
                continue
        if not _can_bind(host, port):
            continue
        if bus_offset is not None and not _can_bind(host, port + bus_offset):
            continue
        with _LOCK:
            if port not in _RESERVED_PORTS:
                _RESERVED_PORTS.add(port)
                return port
    # Odd port range: fall back to asking the kernel.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port = int(sock.getsockname()[1])
    with _LOCK:
        _RESERVED_PORTS.add(port)
    return port


def release_port(port: int) -> None:
    """Give a port from :func:`pick_free_port` back."""
    with _LOCK:
        _RESERVED_PORTS.discard(port)


def tail(path: Path, *, lines: int = 25, secrets: Sequence[str] = ()) -> str:
    """Return the last ``lines`` lines of a log file with every secret replaced by ``***``."""
    try:
        with path.open("rb") as fh:
            fh.seek(0, os.SEEK_END)
            size = fh.tell()
            fh.seek(max(0, size - 16384))
            text = fh.read().decode(errors="replace")
    except OSError:
        return "(no log)"
    for secret in sorted(secrets, key=len, reverse=True):
        if secret:
            text = text.replace(secret, "***")
    return "\n".join(redact(line) for line in text.splitlines()[-lines:])


class ProcessState:
    """A launched server's process, directory and port; what its finalizer cleans up.

    Holds no reference to the ``RedisServer``, so the finalizer does not keep it alive.
    """

    def __init__(self, directory: Path, owns_dir: bool) -> None:
        self.proc: subprocess.Popen[bytes] | None = None
        self.dir = directory
        self.owns_dir = owns_dir
        self.port: int | None = None
        self.auto_port = True

    def cleanup(self) -> None:
        """Kill the process (if any), release the port, remove an owned directory."""
        if self.proc is not None:
            reap(self.proc, grace=0, graceful=False)
            self.proc = None
        if self.port is not None and self.auto_port:
            release_port(self.port)
        if self.owns_dir:
            shutil.rmtree(self.dir, ignore_errors=True)
