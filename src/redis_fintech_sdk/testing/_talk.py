"""Talking to a launched server: readiness probes, clients, TLS context, admin commands."""

from __future__ import annotations

import ssl
import subprocess
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from redis_fintech_sdk.errors import ConfigurationError, RedisError, RedisTimeoutError
from redis_fintech_sdk.testing._resp import RespConnection, RespErrorReply, RespValue, parse_info

if TYPE_CHECKING:
    import redis
    import redis.asyncio

    from redis_fintech_sdk.testing.tls import TLSMaterial


ADDRESS_IN_USE = "Address already in use"


class ServerClientMixin:
    """Ways to talk to a server; the host class provides address, credentials and TLS."""

    tls: TLSMaterial | None
    auth: tuple[str, str] | None
    startup_timeout: float

    @property
    def log_path(self) -> Path:  # pragma: no cover - provided by the host class
        """The server's log file."""
        raise NotImplementedError

    def _tail(self) -> str:  # pragma: no cover - provided by the host class
        raise NotImplementedError

    @property
    def host(self) -> str:  # pragma: no cover - provided by the host class
        """The address the server listens on."""
        raise NotImplementedError

    @property
    def port(self) -> int:  # pragma: no cover - provided by the host class
        """The port clients connect to."""
        raise NotImplementedError

    def _addr(self) -> str:  # pragma: no cover - provided by the host class
        raise NotImplementedError

    def ssl_context(self) -> ssl.SSLContext | None:
        """A client TLS context (with the client certificate) or ``None`` without TLS."""
        return self.tls.client_ssl_context() if self.tls is not None else None

    def connection_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for ``redis.Redis`` / ``redis.asyncio.Redis`` to reach it."""
        kwargs: dict[str, Any] = {"host": self.host, "port": self.port}
        if self.auth is not None:
            kwargs["username"], kwargs["password"] = self.auth
        if self.tls is not None:
            kwargs.update(self.tls.redis_kwargs())
        return kwargs

    def client(self, **overrides: Any) -> redis.Redis:
        """Return a new ``redis.Redis`` connected as the launcher's user; close it yourself."""
        import redis

        return redis.Redis(**{**self.connection_kwargs(), **overrides})

    def async_client(self, **overrides: Any) -> redis.asyncio.Redis:
        """Return a new ``redis.asyncio.Redis``; ``await client.aclose()`` when done."""
        import redis.asyncio

        return redis.asyncio.Redis(**{**self.connection_kwargs(), **overrides})

    def info(self, section: str = "default") -> dict[str, str]:
        """Return ``INFO <section>`` as a flat dict (values as strings)."""
        reply = self.command("INFO", section)
        assert isinstance(reply, bytes)
        return parse_info(reply.decode(errors="replace"))

    def command(self, *args: str | int, timeout: float = 5.0) -> RespValue:
        """Run one command as the launcher's user on a fresh connection and return the reply.

        Replies are raw: bulk strings are ``bytes``, status replies ``str``.

        Raises:
            RedisError: the server answered with an error, or could not be reached.
        """
        try:
            with RespConnection(
                self.host, self.port, timeout=timeout, ssl_context=self.ssl_context()
            ) as conn:
                if self.auth is not None:
                    conn.command("AUTH", *self.auth)
                return conn.command(*args)
        except RespErrorReply as exc:
            code = exc.code or "ERR"
            raise RedisError(f"server replied {code}", address=self._addr()) from None
        except (OSError, ConnectionError) as exc:
            raise RedisError(
                f"cannot reach server: {type(exc).__name__}", address=self._addr()
            ) from exc

    def _probe(self, ssl_context: ssl.SSLContext | None) -> bool:
        try:
            with RespConnection(self.host, self.port, timeout=1.0, ssl_context=ssl_context) as conn:
                if self.auth is not None:
                    conn.command("AUTH", *self.auth)
                conn.command("PING")
                return True
        except RespErrorReply as exc:
            if exc.code == "LOADING":
                return False
            if exc.code == "WRONGPASS":
                raise ConfigurationError(
                    "auth", "the server refused the launcher's credentials"
                ) from None
            # NOAUTH / NOPERM: it answers, and we have no way to ask more.
            return True
        except (OSError, ConnectionError):
            return False

    def _log_since(self, offset: int) -> str:
        try:
            with self.log_path.open("rb") as fh:
                fh.seek(offset)
                return fh.read().decode(errors="replace")
        except OSError:
            return ""

    def _wait_ready(self, proc: subprocess.Popen[bytes], offset: int) -> None:
        deadline = time.monotonic() + self.startup_timeout
        ssl_context = self.ssl_context()
        while True:
            if proc.poll() is not None:
                if ADDRESS_IN_USE in self._log_since(offset):
                    raise AddressInUse
                raise RedisError(
                    f"redis-server exited during startup (code {proc.returncode}); log tail:\n"
                    + self._tail(),
                    address=self._addr(),
                )
            if self._probe(ssl_context):
                return
            if time.monotonic() > deadline:
                raise RedisTimeoutError(
                    f"redis-server did not answer within {self.startup_timeout:.0f}s; "
                    f"log tail:\n{self._tail()}",
                    address=self._addr(),
                )
            time.sleep(0.05)


class AddressInUse(Exception):
    """The port was taken between picking it and the server binding it."""
