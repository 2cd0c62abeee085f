"""F14 ``-OOM`` under ``noeviction``, F18 permission revoked at run time, F19 trimming.

F19 runs at the raw-Redis level until the streams layer's trimming lands: it measures what
``KEEPREF`` trimming does to pending entries and checks the safe recipes (``MINID`` at the
oldest pending id on 7.x, ``ACKED`` on 8.2+) trim none of them.
"""

from __future__ import annotations

import time
import tracemalloc
from collections.abc import Callable

import anyio
import pytest

from redis_fintech_sdk.errors import (
    AuthenticationError,
    AuthorizationError,
    ConnectionFailedError,
)
from redis_fintech_sdk.testing import RedisServer
from redis_fintech_sdk.testing.checker import History, check
from redis_fintech_sdk.testing.faults import FaultProxy

from ._harness import ProducerStats, StreamProducer, read_back, scale
from ._harness import sdk_client as make_client

STREAM = "chaos:lim"


@pytest.mark.anyio
async def test_f14_oom_noeviction_typed_backpressure_bounded_and_resumes(
    chaos_server: Callable[..., RedisServer], history: History, chaos_seed: int
) -> None:
    server = chaos_server(extra_config=["maxmemory-policy noeviction"])
    used = int(server.info("memory")["used_memory"])
    limit = used + 3 * 1024 * 1024
    history.fault("maxmemory", bytes=limit, policy="noeviction")
    server.command("CONFIG", "SET", "maxmemory", str(limit))
    stats = ProducerStats()
    refused_after_full = scale(50, 1000)
    with FaultProxy(server.address, seed=chaos_seed) as proxy:
        async with make_client(proxy.host, proxy.port, command_timeout=2.0) as client:
            producer = StreamProducer(
                client, STREAM, history, idempotent=False, payload=lambda n: b"x" * 4096,
                stats=stats,
            )  # fmt: skip
            seq = 0
            while not stats.errors.get("BackpressureError"):
                seq += 1
                await producer.send(seq)
                assert seq < 100_000, "maxmemory never reached"
            # Full: every further write is refused at once, typed, and not retried.
            before = proxy.statistics().commands.get("XADD", 0)
            tracemalloc.start()
            base, _ = tracemalloc.get_traced_memory()
            accepted_while_full = 0
            for _ in range(refused_after_full):
                seq += 1
                # Memory hovers at the limit (freed query buffers): an odd write may fit.
                accepted_while_full += await producer.send(seq)
            _, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
            sent_xadds = proxy.statistics().commands.get("XADD", 0) - before
            # Drain: a consumer trims what it processed; record it first.
            read_back(server, STREAM, history)
            history.fault("drain", command="XTRIM MAXLEN 0")
            server.command("XTRIM", STREAM, "MAXLEN", "0")
            drained = time.monotonic()
            with anyio.fail_after(10):
                while True:
                    seq += 1
                    if await producer.send(seq):
                        break
                    await anyio.sleep(0.05)
            resumed_after = time.monotonic() - drained
            for _ in range(20):
                seq += 1
                assert await producer.send(seq)
    read_back(server, STREAM, history)
    history.notes.update(stats.as_notes())
    history.notes.update(
        {"client_peak_bytes": peak - base, "resume_s": round(resumed_after, 3), "limit": limit}
    )
    verdict = check(history)
    verdict.assert_guarantee(lost=0, duplicates=0, phantoms=0, false_failures=0)
    history.notes["accepted_while_full"] = accepted_while_full
    assert stats.errors["BackpressureError"] == refused_after_full + 1 - accepted_while_full
    assert accepted_while_full < refused_after_full // 2, history.notes
    assert set(stats.errors) == {"BackpressureError"}
    assert sent_xadds == refused_after_full, "a refused write was retried by the client"
    assert peak - base < 2 * 1024 * 1024, "client memory grew while the server refused writes"
    assert resumed_after <= 5.0


@pytest.mark.anyio
@pytest.mark.parametrize("revoke", ["command", "user_off"])
async def test_f18_permission_revoked_not_retried_in_a_loop(
    chaos_server: Callable[..., RedisServer], history: History, chaos_seed: int, revoke: str
) -> None:
    server = chaos_server(acl_users=["admin on >adminpw ~* &* +@all", "app on >apppw ~* &* +@all"])
    calls = scale(20, 200)
    retries = 3
    with FaultProxy(server.address, seed=chaos_seed) as proxy:
        async with make_client(
            proxy.host, proxy.port, username="app", password="apppw", retries=retries
        ) as client:
            producer = StreamProducer(client, STREAM, history, idempotent=False)
            for seq in range(1, 11):
                assert await producer.send(seq)
            server.command("ACL", "LOG", "RESET")
            if revoke == "command":
                history.fault("ACL SETUSER", rule="-xadd")
                server.command("ACL", "SETUSER", "app", "-xadd")
            else:
                history.fault("ACL SETUSER", rule="off", then="CLIENT KILL USER app")
                server.command("ACL", "SETUSER", "app", "off")
                server.command("CLIENT", "KILL", "USER", "app")
            before = proxy.statistics()
            errors: list[type[BaseException]] = []
            for seq in range(11, 11 + calls):
                mid = f"p-{seq}"
                history.attempt(mid, producer="p", seq=seq)
                try:
                    await client.execute("XADD", STREAM, "*", "mid", mid)
                except (AuthorizationError, AuthenticationError) as exc:
                    history.fail(mid, type(exc).__name__)
                    errors.append(type(exc))
                except ConnectionFailedError as exc:
                    # The killed connection: the one call in flight on it is ambiguous.
                    history.ambiguous(mid, type(exc).__name__)
                    errors.append(type(exc))
                else:
                    history.ack(mid)
            after = proxy.statistics()
    read_back(server, STREAM, history)
    verdict = check(history)
    verdict.assert_guarantee(lost=0, duplicates=0, phantoms=0, false_failures=0)
    expected = AuthorizationError if revoke == "command" else AuthenticationError
    # At most the first call after CLIENT KILL meets the dead pooled connection.
    assert errors.count(ConnectionFailedError) <= (0 if revoke == "command" else 1)
    assert set(errors[1:]) == {expected}, errors
    assert len(verdict.failed) >= calls - 1
    xadds = after.commands.get("XADD", 0) - before.commands.get("XADD", 0)
    handshakes = sum(
        after.commands.get(c, 0) - before.commands.get(c, 0) for c in ("AUTH", "HELLO")
    )
    connections = after.connections - before.connections
    history.notes.update({"xadds": xadds, "handshakes": handshakes, "connections": connections})
    if revoke == "command":
        assert xadds == calls, "NOPERM was retried"
        assert connections == 0, "the client reconnected after NOPERM"
    else:
        # A disabled user: each call may try one connection per configured attempt, never
        # a loop, and never reaches XADD — except the one call that met the killed pooled
        # connection: the proxy may forward its XADD before it sees the server's close
        # (seen once at certify counts); the server never ran it (lost=0, phantoms=0 above).
        assert xadds <= errors.count(ConnectionFailedError), history.notes
        assert handshakes <= calls * (1 + retries), history.notes
    # Audited on the server side (ACL LOG); the SDK's own audit trail is not built yet.
    log = server.command("ACL", "LOG")
    assert isinstance(log, list)
    assert log, "the denial did not reach ACL LOG"


def _fill_group(server: RedisServer, history: History, n: int, pending: int, acked: int) -> None:
    with server.client() as raw:
        raw.xgroup_create("chaos:trim", "g", id="0", mkstream=True)
        for seq in range(1, n + 1):
            mid = f"p-{seq}"
            history.attempt(mid)  # no seq: a consumer group has no gap analysis
            raw.xadd("chaos:trim", {"mid": mid})
            history.ack(mid)
        got = raw.xreadgroup("g", "c1", {"chaos:trim": ">"}, count=pending + acked)
        entries = got[0][1]
        for entry_id, fields in entries[:acked]:
            raw.xack("chaos:trim", "g", entry_id)
            history.receive(fields[b"mid"].decode(), subscriber="g")


@pytest.mark.parametrize("recipe", ["keepref_maxlen", "minid_oldest_pending", "acked"])
def test_f19_trim_with_pending_entries(
    chaos_server: Callable[..., RedisServer], history: History, recipe: str
) -> None:
    server = chaos_server()
    if recipe == "acked" and server.version < (8, 2, 0):
        pytest.skip("XTRIM ... ACKED needs Redis 8.2 (7.x uses the MINID recipe)")
    n, pending, acked = scale(300, 30_000), scale(50, 5000), scale(100, 10_000)
    _fill_group(server, history, n, pending, acked)
    with server.client() as raw:
        summary = raw.xpending("chaos:trim", "g")
        assert summary["pending"] == pending
        history.fault("XTRIM", recipe=recipe)
        if recipe == "keepref_maxlen":
            raw.execute_command("XTRIM", "chaos:trim", "MAXLEN", "0")
        elif recipe == "minid_oldest_pending":
            raw.execute_command("XTRIM", "chaos:trim", "MINID", summary["min"])
        else:
            raw.execute_command("XTRIM", "chaos:trim", "MAXLEN", "0", "ACKED")
    # Unread entries are still needed by the group: only the XACKed ones may go.
    read_back_stream = "chaos:trim"
    read_back(server, read_back_stream, history)
    verdict = check(history)
    if recipe == "keepref_maxlen":
        # Redis' default trims pending (and unread) entries: the loss is measured.
        assert len(verdict.lost) == n - acked, verdict.report()
        history.notes["trimmed_unacked"] = len(verdict.lost)
    else:
        verdict.assert_guarantee(lost=0, duplicates=0, phantoms=0)
