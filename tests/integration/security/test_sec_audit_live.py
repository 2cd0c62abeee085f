"""The audit trail on real servers: concurrent writers, tamper detection, ACL, retention, CLI."""

from __future__ import annotations

import datetime as dt
import json
import time
from pathlib import Path

import anyio
import pytest
from typer.testing import CliRunner

from redis_fintech_sdk.cli._app import build_app
from redis_fintech_sdk.connection import AsyncClient
from redis_fintech_sdk.errors import AuthorizationError
from redis_fintech_sdk.security import (
    AclUser,
    AsyncAclAdmin,
    AsyncAuditLog,
    AuditEvent,
    HmacKeySet,
    RetentionPolicy,
    audit_writer_role,
    auditor_role,
)
from redis_fintech_sdk.security._audit_policy import utc_day
from redis_fintech_sdk.settings import Secret
from redis_fintech_sdk.testing import RedisServer

from ._sec_support import admin_config, config_for, new_password, unique

pytestmark = pytest.mark.anyio


def _event(i: int) -> AuditEvent:
    return AuditEvent(
        kind="published", actor=f"svc-{i % 3}", channel="trade.exec.XNAS", message_id=f"m{i}"
    )


async def _rewrite(admin: AsyncClient, key: str, entries: list[tuple[str, dict[str, str]]]) -> None:
    """What an attacker with admin rights can do: rebuild the stream with chosen entries."""
    await admin.execute("DEL", key)
    for entry_id, fields in entries:
        flat = [part for pair in fields.items() for part in pair]
        await admin.execute("XADD", key, entry_id, *flat)


@pytest.fixture
def audit_keys(log_secrets: set[str]) -> HmacKeySet:
    keys = HmacKeySet.generate("a1")
    log_secrets.add(keys.to_json())
    return keys


async def test_concurrent_writers_build_one_intact_chain_and_tampering_is_caught(
    redis_acl_server: RedisServer, audit_keys: HmacKeySet
) -> None:
    tenant = unique("t").replace("-", "")
    async with AsyncClient(admin_config(redis_acl_server)) as admin:
        writers = [AsyncAuditLog(admin, keys=audit_keys, tenant=tenant) for _ in range(3)]

        async def write(log: AsyncAuditLog, base: int) -> None:
            for i in range(base, base + 20):
                await log.append(_event(i))

        async with anyio.create_task_group() as tg:
            for n, log in enumerate(writers):
                tg.start_soon(write, log, n * 100)
        verifier = AsyncAuditLog(admin, keys=audit_keys, tenant=tenant)
        today = utc_day(time.time_ns())
        key = verifier.stream_key(today)
        report = await verifier.verify(today)
        assert report.ok, report.problems
        assert report.entries == 60
        original = await verifier.entries(today)
        assert [int(f["seq"]) for _, f in original] == list(range(1, 61))
        assert all("payload" not in f for _, f in original)

        # Mutate one field of one entry.
        edited = [(i, dict(f)) for i, f in original]
        edited[10][1]["actor"] = "mallory"
        await _rewrite(admin, key, edited)
        assert {p.kind for p in (await verifier.verify(today)).problems} == {"altered"}
        # Delete one entry in the middle.
        await _rewrite(admin, key, original[:20] + original[21:])
        assert {p.kind for p in (await verifier.verify(today)).problems} == {"gap"}
        # Reorder two entries (ids stay increasing: the contents move).
        swapped = list(original)
        swapped[30] = (original[30][0], original[31][1])
        swapped[31] = (original[31][0], original[30][1])
        await _rewrite(admin, key, swapped)
        assert {p.kind for p in (await verifier.verify(today)).problems} & {"gap", "out_of_order"}
        # Cut the tail.
        await _rewrite(admin, key, original[:-1])
        assert [p.kind for p in (await verifier.verify(today)).problems] == ["truncated"]
        # Restored: intact again.
        await _rewrite(admin, key, original)
        assert (await verifier.verify(today)).ok


async def test_writer_cannot_erase_and_auditor_cannot_write(
    redis_acl_server: RedisServer, audit_keys: HmacKeySet, log_secrets: set[str]
) -> None:
    tenant = unique("acl").replace("-", "")
    wpw, apw = new_password(), new_password()
    log_secrets.update((wpw, apw))
    writer = AclUser(
        name=unique("aw"), role=audit_writer_role(), passwords=(Secret(wpw),), tenant=tenant
    )
    auditor = AclUser(
        name=unique("au"), role=auditor_role(), passwords=(Secret(apw),), tenant=tenant
    )
    async with AsyncClient(admin_config(redis_acl_server)) as admin:
        acl = AsyncAclAdmin(admin)
        await acl.provision([writer, auditor])
        try:
            async with (
                AsyncClient(config_for(redis_acl_server, writer.name, wpw)) as wc,
                AsyncClient(config_for(redis_acl_server, auditor.name, apw)) as ac,
            ):
                # After a SCRIPT FLUSH the writer reloads the script on NOSCRIPT by itself.
                await admin.execute("SCRIPT", "FLUSH")
                wlog = AsyncAuditLog(wc, keys=audit_keys, tenant=tenant)
                for i in range(5):
                    await wlog.append(_event(i))
                key = wlog.stream_key(utc_day(time.time_ns()))
                for argv in (("XDEL", key, "0-1"), ("XTRIM", key, "MAXLEN", "0"), ("DEL", key)):
                    with pytest.raises(AuthorizationError):
                        await wc.execute(*argv)
                alog = AsyncAuditLog(ac, keys=audit_keys, tenant=tenant)
                report = await alog.verify(utc_day(time.time_ns()))
                assert report.ok
                assert report.entries == 5
                with pytest.raises(AuthorizationError):
                    await alog.append(_event(9))
                # Another tenant's trail is out of reach for both.
                other = AsyncAuditLog(ac, keys=audit_keys, tenant="someone-else")
                with pytest.raises(AuthorizationError):
                    await other.verify(utc_day(time.time_ns()))
        finally:
            await acl.remove([writer, auditor])


async def test_retention_removes_old_days_trims_the_boundary_and_still_verifies(
    redis_acl_server: RedisServer, audit_keys: HmacKeySet
) -> None:
    tenant = unique("ret").replace("-", "")
    day_ns = 86_400 * 10**9
    async with AsyncClient(admin_config(redis_acl_server)) as admin:
        old = AsyncAuditLog(
            admin, keys=audit_keys, tenant=tenant, clock=lambda: time.time_ns() - 40 * day_ns
        )
        for i in range(3):
            await old.append(_event(i))
        log = AsyncAuditLog(admin, keys=audit_keys, tenant=tenant)
        for i in range(4):
            await log.append(_event(i))
        await anyio.sleep(0.01)
        boundary = time.time_ns()
        await anyio.sleep(0.01)
        for i in range(4, 10):
            await log.append(_event(i))
        assert len(await log.days()) == 2
        # Run retention "30 days later" with a 30-day period: cutoff == boundary.
        later = AsyncAuditLog(
            admin, keys=audit_keys, tenant=tenant, clock=lambda: boundary + 30 * day_ns
        )
        result = await later.apply_retention(RetentionPolicy(30, "test period"))
        today = utc_day(boundary)
        assert result.days_deleted == (utc_day(boundary - 40 * day_ns),)
        assert result.entries_removed == 3 + 4
        remaining = await log.entries(today)
        assert [int(f["seq"]) for _, f in remaining] == list(range(5, 11))
        assert (await log.verify(today)).ok
        # The removal itself is evidence in the (later) chain.
        later_day = utc_day(boundary + 30 * day_ns)
        events = await later.entries(later_day)
        assert [f["kind"] for _, f in events] == ["retention", "retention"]
        assert "test period" in events[0][1]["reason"]
        assert (await later.verify(later_day)).ok


def test_cli_audit_verify_export_report(
    redis_acl_server: RedisServer, audit_keys: HmacKeySet, tmp_path: Path
) -> None:
    from redis_fintech_sdk.connection import Client
    from redis_fintech_sdk.security import AuditLog

    tenant = unique("cli").replace("-", "")
    with Client(admin_config(redis_acl_server)) as admin:
        log = AuditLog(admin, keys=audit_keys, tenant=tenant)
        for i in range(6):
            log.append(_event(i))
        log.append(
            AuditEvent(
                kind="permission_denied",
                actor="eve",
                outcome="denied",
                channel="tenant:x:trade.exec.A",
            )
        )
    env = {"RFSDK_AUDIT_KEYS": audit_keys.to_json(), "P": redis_acl_server.users["admin"]}
    base = [
        "--url",
        f"redis://{redis_acl_server.host}:{redis_acl_server.port}/0",
        "--user",
        "admin",
        "--password-env",
        "P",
        "--tenant",
        tenant,
    ]
    runner = CliRunner()
    app = build_app()
    res = runner.invoke(app, ["audit", "verify", *base, "--json"], env=env)
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)[0]["entries"] == 7
    out = tmp_path / "audit.jsonl"
    res = runner.invoke(app, ["audit", "export", *base, "--out", str(out)], env=env)
    assert res.exit_code == 0, res.output
    lines = out.read_text().splitlines()
    assert len(lines) == 7
    res = runner.invoke(app, ["audit", "verify", "--file", str(out), "--json"], env=env)
    assert res.exit_code == 0, res.output
    # An edited export fails offline verification.
    doctored = [json.loads(line) for line in lines]
    doctored[2]["outcome"] = "failure"
    out.write_text("\n".join(json.dumps(d) for d in doctored) + "\n")
    res = runner.invoke(app, ["audit", "verify", "--file", str(out)], env=env)
    assert res.exit_code == 1
    res = runner.invoke(app, ["audit", "report", *base, "--json"], env=env)
    assert res.exit_code == 0, res.output
    summary = json.loads(res.stdout)
    assert summary["entries"] == 7
    assert summary["by_outcome"] == {"denied": 1, "success": 6}
    assert summary["chains_ok"] == 1
    # No key material or password in anything the CLI printed.
    assert env["P"] not in res.output
    assert "RFSDK_AUDIT_KEYS" not in res.output
    today = dt.datetime.now(dt.timezone.utc).date().isoformat()
    res = runner.invoke(app, ["audit", "verify", *base, "--day", today, "--day", "bad"], env=env)
    assert res.exit_code == 2


def test_cli_key_rotation_is_audited(
    redis_acl_server: RedisServer, audit_keys: HmacKeySet, tmp_path: Path
) -> None:
    from redis_fintech_sdk.connection import Client
    from redis_fintech_sdk.security import AuditLog

    tenant = unique("rot").replace("-", "")
    ring = tmp_path / "ring.json"
    env = {"RFSDK_AUDIT_KEYS": audit_keys.to_json(), "P": redis_acl_server.users["admin"]}
    url = f"redis://{redis_acl_server.host}:{redis_acl_server.port}/0"
    audit = ["--audit-url", url, "--user", "admin", "--password-env", "P", "--tenant", tenant]
    runner = CliRunner()
    app = build_app()
    assert runner.invoke(app, ["keys", "generate", "--file", str(ring)]).exit_code == 0
    res = runner.invoke(app, ["keys", "rotate", "--file", str(ring), *audit], env=env)
    assert res.exit_code == 0, res.output
    res = runner.invoke(app, ["keys", "retire", "1", "--file", str(ring), *audit], env=env)
    assert res.exit_code == 0, res.output
    with Client(admin_config(redis_acl_server)) as admin:
        log = AuditLog(admin, keys=audit_keys, tenant=tenant)
        today = utc_day(time.time_ns())
        entries = log.entries(today)
        assert log.verify(today).ok
    assert [(f["kind"], f["kid"]) for _, f in entries] == [
        ("key_rotated", "2"),
        ("key_rotated", "1"),
    ]
    assert "promoted" in entries[0][1]["reason"]
    assert "disabled" in entries[1][1]["reason"]
