"""A loopback TCP fault proxy for Redis tests, with Toxiproxy's vocabulary and RESP triggers.

Put it between a client and a private ``redis-server`` and switch faults on and off while the
test runs::

    with RedisServer() as server, FaultProxy(server.address) as proxy:
        client = Client.from_url(proxy.url)
        proxy.set_latency(200, jitter_ms=50)               # F8: slow network
        proxy.cut_after("XADD", nth=3)                      # F7: commit gap on the 3rd XADD
        proxy.blackhole()                                   # F10: half-open link
        proxy.reset_peers()                                 # RST every connection

Faults (per direction where it makes sense: ``"up"`` is client → server, ``"down"`` server →
client): latency + jitter, bandwidth, slicer (fragmented RESP), blackhole (hold the sockets,
drop the data silently), ``reset_peers`` (TCP RST), ``limit_data`` (close after N bytes),
``down``/``up`` (refuse and drop connections). RESP-aware triggers parse the command stream:
``cut_after(command, nth)`` forwards the Nth matching command to the server and then resets the
connection *before its reply* reaches the client (the ambiguous "commit gap");
``delay_replies(command, seconds)`` holds replies to that command.

RESP-aware triggers pair replies with commands in order, so they are meant for ordinary
request/response connections, not for subscriber connections (push messages have no request).

The proxy runs its own asyncio loop in a daemon thread: its methods are plain, thread-safe
calls usable from sync and async tests alike. ``tc netem`` and Toxiproxy are not needed.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import socket
import struct
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from types import TracebackType
from typing import Literal

__all__ = ["FaultProxy", "FaultProxyStatistics"]

Direction = Literal["up", "down", "both"]
_CHUNK = 65536


@dataclass
class _Toxics:
    latency_ms: float = 0.0
    jitter_ms: float = 0.0
    bandwidth: int = 0  # bytes per second, 0 = unlimited
    slice_size: int = 0  # 0 = no slicing
    slice_delay_ms: float = 0.0
    limit_bytes: int = 0  # 0 = unlimited


@dataclass(frozen=True, slots=True)
class FaultProxyStatistics:
    """Counters of a :class:`FaultProxy` (a snapshot).

    Attributes:
        connections: client connections accepted so far.
        active: client connections open now.
        bytes_up: bytes forwarded client → server.
        bytes_down: bytes forwarded server → client.
        commands: complete commands seen client → server, by upper-case name.
        cuts: connections reset by a ``cut_after`` trigger.
        resets: connections reset by ``reset_peers``/``down``/``limit_data``.
        dropped_bytes: bytes swallowed by a blackhole or a cut.
    """

    connections: int
    active: int
    bytes_up: int
    bytes_down: int
    commands: dict[str, int]
    cuts: int
    resets: int
    dropped_bytes: int


@dataclass
class _Trigger:
    command: bytes
    nth: int
    seen: int = 0
    fired: bool = False


@dataclass(eq=False)
class _Conn:
    client: asyncio.StreamWriter
    server: asyncio.StreamWriter
    pending: deque[bytes] = field(default_factory=deque)  # command names awaiting replies
    cut_at: int | None = None  # reply index (0-based, counted down) after which we cut
    replies: int = 0
    closed: bool = False


def frame_end(buf: bytes | bytearray, pos: int = 0) -> int | None:
    """Return the offset just past the RESP2/RESP3 value starting at ``pos`` (None if partial).

    An inline command (a line without a RESP type byte) counts as one frame.
    """
    if pos >= len(buf):
        return None
    eol = buf.find(b"\r\n", pos)
    if eol < 0:
        return None
    kind = buf[pos : pos + 1]
    if kind in (b"+", b"-", b":", b"_", b",", b"#", b"("):
        return eol + 2
    if kind in (b"$", b"!", b"="):
        size = int(buf[pos + 1 : eol])
        if size < 0:
            return eol + 2
        end = eol + 2 + size + 2
        return end if end <= len(buf) else None
    if kind in (b"*", b"~", b">", b"%", b"|"):
        count = int(buf[pos + 1 : eol])
        if count < 0:
            return eol + 2
        if kind in (b"%", b"|"):
            count *= 2
        cur: int | None = eol + 2
        for _ in range(count):
            assert cur is not None
            cur = frame_end(buf, cur)
            if cur is None:
                return None
        if kind == b"|":  # an attribute precedes the real reply
            return frame_end(buf, cur) if cur is not None else None
        return cur
    return eol + 2  # inline command


def command_name(frame: bytes | bytearray) -> bytes:
    """The upper-case command name of a client frame (``b""`` when it has none)."""
    if frame[:1] == b"*":
        eol = frame.find(b"\r\n")
        if eol < 0 or frame[eol + 2 : eol + 3] != b"$":
            return b""
        eol2 = frame.find(b"\r\n", eol + 2)
        size = int(frame[eol + 3 : eol2])
        return bytes(frame[eol2 + 2 : eol2 + 2 + size]).upper()
    return bytes(frame.split(b" ", 1)[0].strip()).upper()


class FaultProxy:
    """An asyncio TCP proxy on loopback that injects network faults into Redis traffic.

    Args:
        upstream: ``(host, port)`` of the real server.
        listen_port: port to listen on (0 picks a free one; kept across ``down``/``up``).
        seed: seed for the jitter RNG (printed faults are replayable).
        resp: parse the RESP stream (needed for ``cut_after``/``delay_replies`` and command
            counts). Turn off for TLS traffic, which the proxy cannot read.

    Use it as a context manager, or call :meth:`start` / :meth:`stop`.
    """

    def __init__(
        self,
        upstream: tuple[str, int],
        *,
        listen_port: int = 0,
        seed: int = 0,
        resp: bool = True,
    ) -> None:
        self.upstream = upstream
        self._resp = resp
        self.seed = seed
        self._rng = random.Random(seed)  # noqa: S311 - jitter, not crypto
        self._port = listen_port
        self._toxics = {"up": _Toxics(), "down": _Toxics()}
        self._blackhole = False
        self._cut: _Trigger | None = None
        self._delay: tuple[bytes, float] | None = None
        self._conns: set[_Conn] = set()
        self._handlers: set[asyncio.Task[None]] = set()
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.base_events.Server | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._stopped: asyncio.Event | None = None
        self._stats = {"connections": 0, "bytes_up": 0, "bytes_down": 0, "cuts": 0}
        self._stats.update({"resets": 0, "dropped_bytes": 0})
        self._commands: dict[str, int] = {}
        self._error: BaseException | None = None

    # ------------------------------------------------------------------ lifecycle

    @property
    def host(self) -> str:
        """The address the proxy listens on."""
        return "127.0.0.1"

    @property
    def port(self) -> int:
        """The port the proxy listens on."""
        return self._port

    @property
    def address(self) -> tuple[str, int]:
        """``(host, port)`` of the proxy."""
        return (self.host, self._port)

    @property
    def url(self) -> str:
        """``redis://host:port`` of the proxy (no credentials)."""
        return f"redis://{self.host}:{self._port}"

    def start(self) -> FaultProxy:
        """Start listening (in a daemon thread with its own event loop)."""
        if self._thread is not None:
            return self
        self._ready.clear()
        self._error = None
        self._thread = threading.Thread(target=self._run, name="rfsdk-fault-proxy", daemon=True)
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("fault proxy did not start")
        if self._error is not None:
            raise RuntimeError("fault proxy failed to start") from self._error
        return self

    def stop(self) -> None:
        """Close every connection and stop the proxy thread."""
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        if self._stopped is not None:
            loop.call_soon_threadsafe(self._stopped.set)
        thread.join(10)
        self._thread = None

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _run(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as exc:  # surfaced by start()
            self._error = exc
            self._ready.set()

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stopped = asyncio.Event()
        await self._listen()
        self._ready.set()
        await self._stopped.wait()
        await self._close_listener()
        for conn in list(self._conns):
            self._abort(conn, rst=False)
        if self._handlers:
            await asyncio.gather(*self._handlers, return_exceptions=True)

    async def _listen(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", self._port)
        self._port = self._server.sockets[0].getsockname()[1]

    async def _close_listener(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    # ------------------------------------------------------------------ fault switches

    def set_latency(
        self, ms: float, *, jitter_ms: float = 0.0, direction: Direction = "down"
    ) -> None:
        """Delay each chunk by ``ms`` ± ``jitter_ms`` milliseconds."""
        for d in self._dirs(direction):
            self._toxics[d].latency_ms, self._toxics[d].jitter_ms = ms, jitter_ms

    def set_bandwidth(self, bytes_per_second: int, *, direction: Direction = "down") -> None:
        """Limit throughput (0 removes the limit)."""
        for d in self._dirs(direction):
            self._toxics[d].bandwidth = bytes_per_second

    def set_slicer(
        self, size: int, *, delay_ms: float = 0.0, direction: Direction = "down"
    ) -> None:
        """Forward data in slices of at most ``size`` bytes (fragmented RESP); 0 turns off."""
        for d in self._dirs(direction):
            self._toxics[d].slice_size, self._toxics[d].slice_delay_ms = size, delay_ms

    def limit_data(self, nbytes: int, *, direction: Direction = "down") -> None:
        """Reset a connection once ``nbytes`` have passed in ``direction`` (0 turns off)."""
        for d in self._dirs(direction):
            self._toxics[d].limit_bytes = nbytes

    def blackhole(self, enabled: bool = True) -> None:
        """Hold every socket open but silently drop all data (a half-open link)."""
        self._blackhole = enabled

    def cut_after(self, command: str, *, nth: int = 1) -> None:
        """Cut the link after the ``nth`` ``command`` reaches the server, before its reply.

        The connection carrying it is reset: the client cannot tell whether the command was
        applied (the commit gap). Fires once; call again to re-arm.
        """
        self._cut = _Trigger(command.upper().encode(), nth)

    def delay_replies(self, command: str | None, seconds: float = 0.0) -> None:
        """Hold every reply to ``command`` for ``seconds`` (``None`` turns it off)."""
        self._delay = None if command is None else (command.upper().encode(), seconds)

    def clear(self) -> None:
        """Remove every fault (connections stay open)."""
        self._toxics = {"up": _Toxics(), "down": _Toxics()}
        self._blackhole = False
        self._cut = None
        self._delay = None

    def reset_peers(self) -> None:
        """Send TCP RST to every client connection now (new ones are still accepted)."""
        self._call(self._reset_all)

    def down(self) -> None:
        """Stop listening and reset every connection (the server 'disappears')."""
        self._call(self._go_down)

    def up(self) -> None:
        """Listen again on the same port after :meth:`down`."""
        self._call(self._listen)

    @property
    def cut_fired(self) -> bool:
        """Whether the armed ``cut_after`` trigger has fired."""
        return self._cut is not None and self._cut.fired

    def statistics(self) -> FaultProxyStatistics:
        """A snapshot of the proxy's counters."""
        with self._lock:
            return FaultProxyStatistics(
                connections=self._stats["connections"],
                active=len(self._conns),
                bytes_up=self._stats["bytes_up"],
                bytes_down=self._stats["bytes_down"],
                commands=dict(self._commands),
                cuts=self._stats["cuts"],
                resets=self._stats["resets"],
                dropped_bytes=self._stats["dropped_bytes"],
            )

    # ------------------------------------------------------------------ internals

    @staticmethod
    def _dirs(direction: Direction) -> tuple[str, ...]:
        return ("up", "down") if direction == "both" else (direction,)

    def _call(self, fn: object) -> None:
        loop = self._loop
        if loop is None:
            raise RuntimeError("fault proxy is not running")

        async def run() -> None:
            result = fn()  # type: ignore[operator]
            if asyncio.iscoroutine(result):
                await result

        asyncio.run_coroutine_threadsafe(run(), loop).result(10)

    async def _go_down(self) -> None:
        await self._close_listener()
        self._reset_all()

    def _reset_all(self) -> None:
        for conn in list(self._conns):
            self._abort(conn, rst=True)
            with self._lock:
                self._stats["resets"] += 1

    def _abort(self, conn: _Conn, *, rst: bool) -> None:
        if conn.closed:
            return
        conn.closed = True
        self._conns.discard(conn)
        for writer in (conn.client, conn.server):
            sock = writer.get_extra_info("socket")
            if rst and sock is not None:
                with contextlib.suppress(OSError):
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            writer.transport.abort() if rst else writer.close()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        try:
            await self._proxy(reader, writer)
        finally:
            self._handlers.discard(task)

    async def _proxy(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.upstream)
        except OSError:
            writer.transport.abort()
            return
        conn = _Conn(client=writer, server=up_writer)
        self._conns.add(conn)
        with self._lock:
            self._stats["connections"] += 1
        tasks = [
            asyncio.create_task(self._pump(conn, reader, up_writer, "up")),
            asyncio.create_task(self._pump(conn, up_reader, writer, "down")),
        ]
        try:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            self._abort(conn, rst=False)
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            for w in (writer, up_writer):
                with contextlib.suppress(OSError, ConnectionError):
                    await w.wait_closed()

    async def _pump(
        self,
        conn: _Conn,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        direction: str,
    ) -> None:
        # Reader and writer are decoupled by a queue stamped with arrival times, so latency
        # delays each chunk from when it arrived (as Toxiproxy does) instead of adding up
        # across a burst of pipelined frames.
        queue: asyncio.Queue[tuple[float, list[tuple[bytes, float]], bool]] = asyncio.Queue()
        writer_task = asyncio.create_task(self._drain(conn, queue, writer, direction))
        buf = bytearray()
        try:
            while not conn.closed and not writer_task.done():
                try:
                    data = await reader.read(_CHUNK)
                except (ConnectionError, OSError):
                    data = b""
                if not data:
                    break
                if self._blackhole:
                    with self._lock:
                        self._stats["dropped_bytes"] += len(data)
                    continue
                buf += data
                out = self._frames(conn, buf, direction)
                cut = conn.cut_at is not None and conn.replies > conn.cut_at
                if cut:
                    with self._lock:
                        self._stats["dropped_bytes"] += len(buf)
                    buf.clear()
                if out or cut:
                    queue.put_nowait((time.monotonic(), out or [], cut))
                if cut:
                    break
            queue.put_nowait((time.monotonic(), [], False))  # end marker
            await writer_task  # deliver what was read before the cut or the EOF
        finally:
            if not writer_task.done():
                queue.put_nowait((time.monotonic(), [], False))
                writer_task.cancel()
            await asyncio.gather(writer_task, return_exceptions=True)

    async def _drain(
        self,
        conn: _Conn,
        queue: asyncio.Queue[tuple[float, list[tuple[bytes, float]], bool]],
        writer: asyncio.StreamWriter,
        direction: str,
    ) -> None:
        passed = 0
        while not conn.closed:
            arrived, pieces, cut = await queue.get()
            tox = self._toxics[direction]
            delay = tox.latency_ms / 1000.0
            if tox.jitter_ms:
                delay += self._rng.uniform(-tox.jitter_ms, tox.jitter_ms) / 1000.0
            wait = arrived + delay - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            for piece, reply_delay in pieces:
                if reply_delay:
                    await asyncio.sleep(reply_delay)
                passed += len(piece)
                if tox.limit_bytes and passed > tox.limit_bytes:
                    with self._lock:
                        self._stats["resets"] += 1
                    self._abort(conn, rst=True)
                    return
                if not await self._send(writer, piece, tox):
                    return
                with self._lock:
                    self._stats["bytes_" + direction] += len(piece)
            if cut:
                with self._lock:
                    self._stats["cuts"] += 1
                self._abort(conn, rst=True)
                return
            if queue.empty() and not pieces:
                return

    def _frames(
        self, conn: _Conn, buf: bytearray, direction: str
    ) -> list[tuple[bytes, float]] | None:
        """Split complete frames off ``buf``; apply RESP triggers. None = need more data."""
        if not self._resp:
            data = bytes(buf)
            buf.clear()
            return [(data, 0.0)]
        out: list[tuple[bytes, float]] = []
        pos = 0
        while True:
            try:
                end = frame_end(buf, pos)
            except ValueError:  # not RESP: stop parsing, forward as is
                end = len(buf) if len(buf) > pos else None
            if end is None:
                break
            frame = bytes(buf[pos:end])
            pos = end
            if direction == "up":
                name = command_name(frame)
                conn.pending.append(name)
                key = name.decode("latin-1")
                with self._lock:
                    self._commands[key] = self._commands.get(key, 0) + 1
                trig = self._cut
                if trig is not None and not trig.fired and name == trig.command:
                    trig.seen += 1
                    if trig.seen >= trig.nth:
                        trig.fired = True
                        # replies numbered from 0: cut right before this command's reply
                        conn.cut_at = conn.replies + len(conn.pending) - 1
                out.append((frame, 0.0))
                continue
            name = conn.pending.popleft() if conn.pending else b""
            if conn.cut_at is not None and conn.replies >= conn.cut_at:
                conn.replies += 1
                pos = len(buf)  # swallow this reply and everything after it
                break
            conn.replies += 1
            delay = self._delay[1] if self._delay and name == self._delay[0] else 0.0
            out.append((frame, delay))
        del buf[:pos]
        return out

    async def _send(self, writer: asyncio.StreamWriter, data: bytes, tox: _Toxics) -> bool:
        pieces = [data]
        if tox.slice_size > 0:
            pieces = [data[i : i + tox.slice_size] for i in range(0, len(data), tox.slice_size)]
        try:
            for i, piece in enumerate(pieces):
                if i and tox.slice_delay_ms:
                    await asyncio.sleep(tox.slice_delay_ms / 1000.0)
                writer.write(piece)
                await writer.drain()
                if tox.bandwidth > 0:
                    await asyncio.sleep(len(piece) / tox.bandwidth)
        except (ConnectionError, OSError):
            return False
        return True
