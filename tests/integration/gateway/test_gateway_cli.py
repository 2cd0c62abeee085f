# ruff: noqa: ASYNC110
"""``rfsdk gateway`` as a real process: serve, stream, audit, keep tokens out of logs, stop."""

from __future__ import annotations

import datetime as _dt
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest
from anyio.abc import SocketStream

from redis_fintech_sdk.codec import Envelope
from redis_fintech_sdk.connection import AsyncClient
from redis_fintech_sdk.pubsub import AsyncPublisher
from redis_fintech_sdk.security import AsyncAuditLog, ChannelGrant, HmacKeySet, TokenIssuer
from redis_fintech_sdk.testing import RedisServer

pytestmark = pytest.mark.anyio

pytest.importorskip("uvicorn")

KEYS = HmacKeySet.generate()
SUBJECT = f"cli-reader-{secrets.token_hex(4)}"
READER = TokenIssuer(hmac_keys=KEYS).issue(SUBJECT, [ChannelGrant.of("gw.cli.*", "subscribe")])


class HttpConnection:
    """One request on one connection: status, headers, then the (chunked) body as it comes."""

    def __init__(self, sock: SocketStream) -> None:
        self.sock = sock
        self.raw = b""
        self.status = 0
        self.headers: dict[str, str] = {}
        self.text = ""  # de-chunked body read so far
        self._chunked = False

    async def _more(self) -> None:
        data = await self.sock.receive()
        self.raw += data

    async def _line(self) -> bytes:
        while b"\r\n" not in self.raw:
            await self._more()
        line, self.raw = self.raw.split(b"\r\n", 1)
        return line

    async def read_head(self) -> None:
        """Read the status line and headers."""
        self.status = int((await self._line()).split()[1])
        while line := await self._line():
            name, _, value = line.decode("latin-1").partition(":")
            self.headers[name.strip().lower()] = value.strip()
        self._chunked = self.headers.get("transfer-encoding", "") == "chunked"

    async def read_body_part(self) -> bool:
        """Read one more piece of the body into :attr:`text`; ``False`` at its end."""
        if not self._chunked:
            try:
                await self._more()
            except (anyio.EndOfStream, anyio.BrokenResourceError):
                self.text += self.raw.decode()
                self.raw = b""
                return False
            self.text += self.raw.decode()
            self.raw = b""
            return True
        size = int(await self._line(), 16)
        while len(self.raw) < size + 2:
            await self._more()
        self.text += self.raw[:size].decode()
        self.raw = self.raw[size + 2 :]
        return size > 0

    async def read_all(self) -> str:
        """The whole body (until its end or the connection closes)."""
        length = self.headers.get("content-length")
        if length is not None:
            while len(self.raw) < int(length):
                await self._more()
            self.text = self.raw.decode()
            return self.text
        while await self.read_body_part():
            pass
        return self.text

    async def wait_for(self, needle: str) -> None:
        """Read until ``needle`` is in the body."""
        while needle not in self.text:
            if not await self.read_body_part():
                raise AssertionError(f"body ended before {needle!r}")


async def open_request(
    port: int, path: str, headers: dict[str, str] | None = None
) -> HttpConnection:
    """Send ``GET path`` to 127.0.0.1:``port`` and read the response head."""
    sock = await anyio.connect_tcp("127.0.0.1", port)
    lines = [f"GET {path} HTTP/1.1", "Host: 127.0.0.1", "Connection: close"]
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    await sock.send(("\r\n".join(lines) + "\r\n\r\n").encode())
    conn = HttpConnection(sock)
    await conn.read_head()
    return conn


async def get(port: int, path: str, headers: dict[str, str] | None = None) -> tuple[int, str]:
    """One complete ``GET``: ``(status, body)``."""
    conn = await open_request(port, path, headers)
    async with conn.sock:
        return conn.status, await conn.read_all()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Gateway:
    """A running ``rfsdk gateway`` process and its log file."""

    def __init__(self, proc: subprocess.Popen[bytes], port: int, log: Path) -> None:
        self.proc = proc
        self.port = port
        self.log = log

    def output(self) -> str:
        return self.log.read_text(errors="replace")


@pytest.fixture
def gateway(redis_server: RedisServer, tmp_path: Path) -> Iterator[Gateway]:
    port = _free_port()
    log = tmp_path / "gateway.log"
    env = dict(os.environ, RFSDK_GATEWAY_TOKEN_KEYS=KEYS.to_json(), PYTHONUNBUFFERED="1")
    env.pop("RFSDK_AUDIT_KEYS", None)
    cmd = [
        sys.executable, "-m", "redis_fintech_sdk.cli", "gateway",
        "--url", redis_server.url, "--host", "127.0.0.1", "--port", str(port),
        "--audit", "--shutdown-timeout", "1",
    ]  # fmt: skip
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env)
    try:
        yield Gateway(proc, port, log)
    finally:
        if proc.poll() is None:  # the test failed before stopping it: only our own pid
            proc.kill()
            proc.wait(10)


async def _wait_healthy(gw: Gateway) -> None:
    with anyio.fail_after(30):  # interpreter start-up on a loaded machine
        while True:
            assert gw.proc.poll() is None, gw.output()
            try:
                status, body = await get(gw.port, "/healthz")
            except OSError:
                await anyio.sleep(0.05)
                continue
            assert (status, json.loads(body)) == (200, {"status": "ok"})
            return


async def _wait_exit(proc: subprocess.Popen[bytes]) -> int:
    while (code := proc.poll()) is None:  # a child process offers no awaitable exit here
        await anyio.sleep(0.05)
    return code


async def test_rfsdk_gateway_serves_sse_audits_and_stops_cleanly(
    gateway: Gateway, redis_server: RedisServer
) -> None:
    ws_client = pytest.importorskip("websockets.asyncio.client")
    await _wait_healthy(gateway)
    channel = f"gw.cli.{secrets.token_hex(3)}"
    conn = await open_request(
        gateway.port,
        f"/v1/stream?channels={channel}",
        {"Authorization": f"Bearer {READER}", "Accept": "text/event-stream"},
    )
    async with AsyncClient.from_url(redis_server.url) as client:
        with anyio.fail_after(10):
            assert conn.status == 200
            assert conn.headers["content-type"].startswith("text/event-stream")
            await conn.wait_for(": subscribed 1")  # subscribed in Redis before this is sent
            async with AsyncPublisher(client) as pub:
                await pub.publish(Envelope(type="cli.tick", payload={"px": 101.25}), channel)
            await conn.wait_for('"px":101.25')
        event = next(b for b in conn.text.split("\n\n") if "event: message" in b)
        data = json.loads(event.split("data: ", 1)[1])
        assert (data["channel"], data["type"], data["payload"]) == (
            channel,
            "cli.tick",
            {"px": 101.25},
        )

        # A WebSocket with the token in the query: uvicorn logs the path, never the token.
        async with ws_client.connect(f"ws://127.0.0.1:{gateway.port}/v1/ws?token={READER}") as ws:
            await ws.send(json.dumps({"op": "ping"}))
            assert json.loads(await ws.recv()) == {"op": "pong"}

        # --audit: the accepted SSE connection is in today's audit trail, without the token.
        today = _dt.datetime.now(_dt.timezone.utc).date()
        entries = await AsyncAuditLog(client, keys=None).entries(today)
        mine = [f for _, f in entries if f.get("actor") == SUBJECT]
        assert {(f["kind"], f["outcome"], f["channel"]) for f in mine} >= {
            ("access", "success", channel)
        }
        assert all(READER not in json.dumps(f) for f in mine)

        # SIGTERM with the SSE stream still open: the gateway ends the stream itself (a
        # complete chunked body, not a cut connection or a cancelled task), then exits 0.
        gateway.proc.send_signal(signal.SIGTERM)
        with anyio.fail_after(20):
            await conn.read_all()
            code = await _wait_exit(gateway.proc)
        await conn.sock.aclose()
        out = gateway.output()
        assert code == 0, out
        assert "Application shutdown complete" in out
        assert "Traceback" not in out
        assert "timeout graceful shutdown exceeded" not in out
        assert READER not in out
        assert "/v1/ws?token=***" in out  # the WebSocket line was logged, masked
        # The gateway released its Redis subscription on the way out.
        reply = await client.redis.pubsub_numsub(channel)
        assert int(reply[0][1]) == 0
