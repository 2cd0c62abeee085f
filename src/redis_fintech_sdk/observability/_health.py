"""A small built-in HTTP server for ``/healthz``, ``/readyz`` and ``/metrics``.

Standard library only (``http.server``): it runs in one thread owned by the
:class:`HealthServer` context manager, which stops and joins it on exit.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import TYPE_CHECKING, Any

from redis_fintech_sdk.errors import SDKError, redact
from redis_fintech_sdk.resilience import CircuitBreaker, CircuitState

if TYPE_CHECKING:
    from redis_fintech_sdk.connection import Client
    from redis_fintech_sdk.observability._exporters import PrometheusMetrics

__all__ = [
    "CheckResult",
    "HealthServer",
    "ReadinessCheck",
    "breaker_check",
    "lag_check",
    "redis_check",
]


@dataclass(frozen=True, slots=True)
class CheckResult:
    """The outcome of one readiness check.

    Attributes:
        ok: the dependency is usable.
        detail: short text for humans (never a secret).
    """

    ok: bool
    detail: str = ""


#: A readiness check: called from the HTTP thread; must be quick and must not raise
#: (an exception counts as not ready).
ReadinessCheck = Callable[[], CheckResult]


def redis_check(client: Client) -> ReadinessCheck:
    """Ready when the server answers PING (within the client's command timeout)."""

    def check() -> CheckResult:
        try:
            return CheckResult(True, f"ping {client.ping():.1f} ms")
        except SDKError as exc:
            return CheckResult(False, redact(str(exc)))

    return check


def breaker_check(breaker: CircuitBreaker) -> ReadinessCheck:
    """Ready unless the breaker is open (or forced open)."""

    def check() -> CheckResult:
        state = breaker.state
        return CheckResult(state not in (CircuitState.OPEN, CircuitState.FORCED_OPEN), state.value)

    return check


def lag_check(lag: Callable[[], int], *, threshold: int) -> ReadinessCheck:
    """Ready while ``lag()`` (e.g. a consumer group's lag + pending) is at most ``threshold``."""

    def check() -> CheckResult:
        value = lag()
        return CheckResult(value <= threshold, f"lag {value} (threshold {threshold})")

    return check


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        owner = self.server.owner
        if path == "/healthz":
            self._send(200, b"ok\n", "text/plain; charset=utf-8")
        elif path == "/readyz":
            ready, results = owner.readiness()
            body = json.dumps({"ready": ready, "checks": results}).encode() + b"\n"
            self._send(200 if ready else 503, body, "application/json")
        elif path == "/metrics" and owner.metrics is not None:
            body, content_type = owner.metrics.exposition()
            self._send(200, body, content_type)
        else:
            self._send(404, b"not found\n", "text/plain; charset=utf-8")

    def _send(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        """Probes every few seconds would flood stderr: stay quiet."""


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    owner: HealthServer


class HealthServer:
    """Serves ``/healthz`` (alive), ``/readyz`` (checks pass) and ``/metrics`` (Prometheus).

    Use it as a context manager; the listening thread belongs to it and is joined on exit.

    Args:
        host: address to bind; keep it on a private interface (default loopback).
        port: port; ``0`` picks a free one (see :attr:`port`).
        checks: ``{name: check}`` run on every ``/readyz``.
        metrics: a :class:`PrometheusMetrics` whose registry ``/metrics`` serves.

    Example:
        >>> with HealthServer(checks={"redis": redis_check(client)}) as server:  # doctest: +SKIP
        ...     print(server.url)
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        checks: Mapping[str, ReadinessCheck] | None = None,
        metrics: PrometheusMetrics | None = None,
    ) -> None:
        self.host = host
        self._port = port
        self.checks: dict[str, ReadinessCheck] = dict(checks or {})
        self.metrics = metrics
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        """The bound port (after :meth:`start`)."""
        if self._server is None:
            return self._port
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        """``http://host:port``."""
        return f"http://{self.host}:{self.port}"

    def add_check(self, name: str, check: ReadinessCheck) -> None:
        """Add (or replace) a readiness check."""
        self.checks[name] = check

    def readiness(self) -> tuple[bool, dict[str, dict[str, Any]]]:
        """Run every check: ``(all ok, {name: {"ok": …, "detail": …}})``."""
        results: dict[str, dict[str, Any]] = {}
        for name, check in list(self.checks.items()):
            try:
                result = check()
            except Exception as exc:  # a broken check means "not ready", never a crash
                result = CheckResult(False, redact(f"{type(exc).__name__}: {exc}"))
            results[name] = {"ok": result.ok, "detail": result.detail}
        return all(r["ok"] for r in results.values()), results

    def start(self) -> HealthServer:
        """Bind and start serving in a thread owned by this object."""
        if self._server is not None:
            return self
        server = _Server((self.host, self._port), _Handler)
        server.owner = self
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.1}, name="rfsdk-health"
        )
        self._thread.start()
        return self

    def close(self) -> None:
        """Stop serving, close the socket and join the thread. Safe to call twice."""
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def __enter__(self) -> HealthServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
