"""A tiny blocking RESP2 client used by the launcher for probes and admin commands.

The launcher does not use redis-py for its own probes: readiness polling needs exact control of
timeouts and no built-in retries, and it must work before the SDK's connection layer exists.
"""

from __future__ import annotations

import socket
import ssl
from types import TracebackType
from typing import Union

RespValue = Union[str, int, bytes, None, list["RespValue"], "RespErrorReply"]


class RespErrorReply(Exception):
    """An error reply (``-ERR ...``) from the server."""

    @property
    def code(self) -> str:
        """The first word of the reply (``NOAUTH``, ``LOADING``, ``ERR`` ...)."""
        text = str(self)
        return text.split(" ", 1)[0] if text else ""


class RespConnection:
    """One blocking connection speaking RESP2; closes itself as a context manager."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        timeout: float = 2.0,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        raw = socket.create_connection((host, port), timeout=timeout)
        try:
            if ssl_context is not None:
                self._sock: socket.socket = ssl_context.wrap_socket(raw, server_hostname=host)
            else:
                self._sock = raw
        except BaseException:
            raw.close()
            raise
        self._buf = b""

    def __enter__(self) -> RespConnection:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close the socket."""
        self._sock.close()

    def send(self, *args: str | bytes | int) -> None:
        """Send one command without reading its reply."""
        parts = [f"*{len(args)}\r\n".encode()]
        for arg in args:
            data = arg if isinstance(arg, bytes) else str(arg).encode()
            parts.append(b"$%d\r\n%s\r\n" % (len(data), data))
        self._sock.sendall(b"".join(parts))

    def command(self, *args: str | bytes | int) -> RespValue:
        """Send one command and return its reply.

        Raises:
            RespErrorReply: the server answered with an error.
        """
        self.send(*args)
        reply = self.read_reply()
        if isinstance(reply, RespErrorReply):
            raise reply
        return reply

    def read_reply(self) -> RespValue:
        """Read one reply; an error reply is returned (not raised)."""
        line = self._readline()
        kind, rest = line[:1], line[1:]
        if kind == b"+":
            return rest.decode(errors="replace")
        if kind == b"-":
            return RespErrorReply(rest.decode(errors="replace"))
        if kind == b":":
            return int(rest)
        if kind == b"$":
            size = int(rest)
            if size < 0:
                return None
            data = self._readexact(size + 2)
            return data[:-2]
        if kind == b"*":
            count = int(rest)
            if count < 0:
                return None
            return [self.read_reply() for _ in range(count)]
        raise ConnectionError(f"unexpected RESP type byte {kind!r}")

    def _fill(self) -> None:
        chunk = self._sock.recv(65536)
        if not chunk:
            raise ConnectionError("connection closed by server")
        self._buf += chunk

    def _readline(self) -> bytes:
        while b"\r\n" not in self._buf:
            self._fill()
        line, _, self._buf = self._buf.partition(b"\r\n")
        return line

    def _readexact(self, size: int) -> bytes:
        while len(self._buf) < size:
            self._fill()
        data, self._buf = self._buf[:size], self._buf[size:]
        return data


def as_text(value: RespValue) -> str:
    """Decode a bulk or simple string reply to ``str`` (empty for nil)."""
    if isinstance(value, bytes):
        return value.decode(errors="replace")
    if value is None:
        return ""
    return str(value)


def parse_info(text: str) -> dict[str, str]:
    """Parse the text of an ``INFO`` reply into a flat ``field -> value`` dict."""
    fields: dict[str, str] = {}
    for line in text.splitlines():
        if not line or line.startswith("#") or ":" not in line:
            continue
        key, _, value = line.partition(":")
        fields[key] = value.strip()
    return fields
