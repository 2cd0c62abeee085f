"""Fixtures of the pattern helpers' integration tests: a client, unique key prefixes, and a
local HTTP server for webhooks (127.0.0.1 only, scripted status codes)."""

from __future__ import annotations

import itertools
import threading
import uuid
from collections.abc import AsyncIterator, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from redis_fintech_sdk.connection import AsyncClient
from redis_fintech_sdk.settings import Timeouts
from redis_fintech_sdk.testing import RedisServer

from ._support import Received, WebhookServer

_counter = itertools.count()


@pytest.fixture
def prefix() -> str:
    """A key prefix (and id stem) no other test uses."""
    return f"t{next(_counter)}{uuid.uuid4().hex[:8]}"


def timeouts() -> Timeouts:
    return Timeouts(connect=2.0, command=2.0, max_block=5.0)


@pytest.fixture
async def aclient(redis_server: RedisServer) -> AsyncIterator[AsyncClient]:
    async with AsyncClient.from_url(redis_server.url, timeouts=timeouts()) as client:
        yield client


@pytest.fixture
async def aclient2(redis_server: RedisServer) -> AsyncIterator[AsyncClient]:
    """A second, independent client: another "process" on the same server."""
    async with AsyncClient.from_url(redis_server.url, timeouts=timeouts()) as client:
        yield client


@pytest.fixture
def webhook_server() -> Iterator[WebhookServer]:
    state = WebhookServer()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(length)
            with state.lock:
                state.requests.append(Received(self.path, dict(self.headers.items()), body))
            status = state.next_status()
            reply = b"{}"
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

        def log_message(self, format: str, *args: object) -> None:
            pass  # keep the test output clean

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hooks"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
