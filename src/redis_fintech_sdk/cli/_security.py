"""``rfsdk audit`` and ``rfsdk keys``: audit-trail verification/export/reports, keyring files.

Secrets never travel on the command line: passwords and keys are read from environment
variables named by options (``--password-env``, ``--audit-keys-env``, ``--kek-env``), and no
command prints key material.
"""

from __future__ import annotations

import base64
import binascii
import datetime as _dt
import json
import os
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from redis_fintech_sdk.errors import SDKError

__all__ = ["register_security"]

console = Console()
err_console = Console(stderr=True)

_URL = typer.Option("redis://127.0.0.1:6379/0", "--url", help="server (no password in it)")
_USER = typer.Option(None, "--user", help="ACL user name")
_PASSWORD_ENV = typer.Option(
    "RFSDK_REDIS_PASSWORD", "--password-env", help="environment variable holding the password"
)
_KEYS_ENV = typer.Option(
    "RFSDK_AUDIT_KEYS",
    "--audit-keys-env",
    help="environment variable holding the audit HMAC key set (JSON); unset: SHA-256 chain",
)
_TENANT = typer.Option(None, "--tenant", help="tenant whose trail to use")
_DAYS = typer.Option(None, "--day", help="UTC day YYYY-MM-DD (repeatable; default today)")
_FROM = typer.Option(None, "--from", help="first UTC day (with --to)")
_TO = typer.Option(None, "--to", help="last UTC day (with --from)")
_PREFIX = typer.Option("audit", "--prefix", help="audit stream key prefix")
_EXPORT_FILE = typer.Option(None, "--file", help="verify a JSON Lines export instead")
_OPTIONAL_FILE = typer.Option(None, "--file", help="keyring file")


def _fail(message: str, code: int = 2) -> typer.Exit:
    err_console.print(f"[red]error:[/red] {message}")
    return typer.Exit(code)


def _parse_day(text: str) -> _dt.date:
    try:
        return _dt.date.fromisoformat(text)
    except ValueError:
        raise _fail(f"not a day (YYYY-MM-DD): {text!r}") from None


def _days(days: list[str] | None, start: str | None, end: str | None) -> list[_dt.date]:
    if start or end:
        if not (start and end):
            raise _fail("give both --from and --to")
        first, last = _parse_day(start), _parse_day(end)
        if last < first:
            raise _fail("--to is before --from")
        return [first + _dt.timedelta(days=i) for i in range((last - first).days + 1)]
    if days:
        return sorted({_parse_day(d) for d in days})
    return [_dt.datetime.now(_dt.timezone.utc).date()]


@contextmanager
def _client(url: str, user: str | None, password_env: str) -> Iterator[Any]:
    from redis_fintech_sdk.connection import Client
    from redis_fintech_sdk.settings import ConnectionConfig, Credentials, Secret

    base = ConnectionConfig.from_url(url)
    password = os.environ.get(password_env)
    overrides: dict[str, Any] = {}
    if user is not None or password:
        overrides["credentials"] = Credentials(
            username=user or base.credentials.username,
            password=Secret(password) if password else base.credentials.password,
        )
    with Client.from_url(url, **overrides) as client:
        yield client


def _audit_keys(env: str) -> Any:
    from redis_fintech_sdk.security import HmacKeySet

    return HmacKeySet.from_env(env) if os.environ.get(env) else None


def _verify_table(rows: list[tuple[str, int, bool, list[str]]]) -> Table:
    table = Table(title="audit chain verification")
    for col in ("stream", "entries", "intact", "problems"):
        table.add_column(col)
    for stream, entries, ok, problems in rows:
        mark = "[green]yes[/green]" if ok else "[red]NO[/red]"
        table.add_row(stream, str(entries), mark, "\n".join(problems))
    return table


def register_security(app: typer.Typer) -> None:
    """Add the ``audit`` and ``keys`` command groups to ``app``."""
    audit = typer.Typer(help="Verify, export and report on the hash-chained audit trail.")
    keys = typer.Typer(help="Manage codec keyring files: generate, list, rotate, retire.")
    app.add_typer(audit, name="audit")
    app.add_typer(keys, name="keys")

    @audit.command("verify")
    def audit_verify(
        url: str = _URL,
        user: str | None = _USER,
        password_env: str = _PASSWORD_ENV,
        keys_env: str = _KEYS_ENV,
        tenant: str | None = _TENANT,
        day: list[str] | None = _DAYS,
        start: str | None = _FROM,
        end: str | None = _TO,
        prefix: str = _PREFIX,
        file: Path | None = _EXPORT_FILE,
        as_json: bool = typer.Option(False, "--json", help="print JSON"),
    ) -> None:
        """Verify audit chains (exit 1 when any entry was edited, deleted or reordered)."""
        from redis_fintech_sdk.security import AuditLog, entries_from_jsonl, verify_chain

        rows: list[tuple[str, int, bool, list[str]]] = []
        try:
            hkeys = _audit_keys(keys_env)
            if file is not None:
                with file.open(encoding="utf-8") as fh:
                    chains = entries_from_jsonl(fh)
                for stream, entries in chains.items():
                    report = verify_chain(entries, keys=hkeys)
                    problems = [f"{p.kind}: {p.detail}" for p in report.problems]
                    rows.append((stream, report.entries, report.ok, problems))
            else:
                with _client(url, user, password_env) as client:
                    log = AuditLog(client, keys=hkeys, tenant=tenant, prefix=prefix)
                    for d in _days(day, start, end):
                        report = log.verify(d)
                        problems = [
                            f"{p.kind} at {p.entry_id or 'end'}: {p.detail}"
                            for p in report.problems
                        ]
                        rows.append((log.stream_key(d), report.entries, report.ok, problems))
        except (SDKError, OSError) as exc:
            raise _fail(str(exc)) from None
        if as_json:
            doc = [{"stream": s, "entries": n, "ok": ok, "problems": p} for s, n, ok, p in rows]
            typer.echo(json.dumps(doc))
        else:
            console.print(_verify_table(rows))
        raise typer.Exit(0 if all(ok for _, _, ok, _ in rows) else 1)

    @audit.command("export")
    def audit_export(
        out: str = typer.Option(..., "--out", help="JSON Lines file, or - for stdout"),
        url: str = _URL,
        user: str | None = _USER,
        password_env: str = _PASSWORD_ENV,
        tenant: str | None = _TENANT,
        day: list[str] | None = _DAYS,
        start: str | None = _FROM,
        end: str | None = _TO,
        prefix: str = _PREFIX,
    ) -> None:
        """Export audit entries as JSON Lines (for WORM storage and examiners)."""
        from redis_fintech_sdk.security import AuditLog

        try:
            with _client(url, user, password_env) as client:
                log = AuditLog(client, keys=None, tenant=tenant, prefix=prefix)
                days = _days(day, start, end)
                if out == "-":
                    count = log.export(days, sys.stdout)
                else:
                    with open(out, "w", encoding="utf-8") as fh:
                        count = log.export(days, fh)
        except (SDKError, OSError) as exc:
            raise _fail(str(exc)) from None
        err_console.print(f"exported {count} entries")

    @audit.command("report")
    def audit_report(
        url: str = _URL,
        user: str | None = _USER,
        password_env: str = _PASSWORD_ENV,
        keys_env: str = _KEYS_ENV,
        tenant: str | None = _TENANT,
        day: list[str] | None = _DAYS,
        start: str | None = _FROM,
        end: str | None = _TO,
        prefix: str = _PREFIX,
        as_json: bool = typer.Option(False, "--json", help="print JSON"),
    ) -> None:
        """Compliance report: events per kind/outcome/actor, refusals, chain integrity."""
        from redis_fintech_sdk.security import AuditLog

        try:
            with _client(url, user, password_env) as client:
                log = AuditLog(client, keys=_audit_keys(keys_env), tenant=tenant, prefix=prefix)
                summary = log.report(_days(day, start, end))
        except SDKError as exc:
            raise _fail(str(exc)) from None
        if as_json:
            typer.echo(json.dumps(summary.as_dict()))
        else:
            table = Table(title="audit report", show_header=False)
            table.add_row("streams", str(summary.streams))
            table.add_row("entries", str(summary.entries))
            table.add_row("chains intact", f"{summary.chains_ok}/{summary.streams}")
            for label, counts in (
                ("by kind", summary.by_kind),
                ("by outcome", summary.by_outcome),
                ("by actor", summary.by_actor),
            ):
                table.add_row(label, ", ".join(f"{k}={v}" for k, v in counts.items()))
            table.add_row("refusals", str(len(summary.denied)))
            for line in summary.problems:
                table.add_row("[red]problem[/red]", line)
            console.print(table)
        raise typer.Exit(0 if summary.chains_ok == summary.streams else 1)

    _register_keys(keys)


# ---------------------------------------------------------------------------- keys

_FILE = typer.Option(..., "--file", help="keyring (JSON keyset) file")
_KEK_ENV = typer.Option(
    None, "--kek-env", help="environment variable with a base64 32-byte key-encryption key"
)


def _kek(env: str | None) -> Any:
    if env is None:
        return None
    from redis_fintech_sdk.codec import LocalKek

    try:
        return LocalKek(base64.b64decode(os.environ.get(env, ""), validate=True))
    except (binascii.Error, ValueError, SDKError):
        raise _fail(f"{env} must hold a base64 32-byte key") from None


def _load(path: Path, kek_env: str | None) -> Any:
    from redis_fintech_sdk.codec import keyring_from_file

    try:
        return keyring_from_file(path, kms=_kek(kek_env))
    except SDKError as exc:
        raise _fail(str(exc)) from None


def _store(path: Path, ring: Any, kek_env: str | None) -> None:
    """Write atomically with mode 0600 (the file holds keys unless wrapped by a KEK)."""
    from redis_fintech_sdk.codec import keyring_to_json

    text = keyring_to_json(ring, kms=_kek(kek_env))
    fd, tmp = tempfile.mkstemp(prefix=".keyring-", dir=str(path.parent or Path(".")))
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _listing(ring: Any) -> list[dict[str, Any]]:
    stats = ring.statistics()
    return [
        {"id": kid, "status": stats.statuses[kid].value, "primary": kid == ring.primary_key_id}
        for kid in ring.key_ids()
    ]


def _audit_rotation(
    audit_url: str | None,
    user: str | None,
    password_env: str,
    keys_env: str,
    tenant: str | None,
    reason: str,
    key_id: int,
) -> None:
    if audit_url is None:
        return
    from redis_fintech_sdk.security import AuditEvent, AuditLog

    actor = os.environ.get("USER", "rfsdk-cli")
    with _client(audit_url, user, password_env) as client:
        AuditLog(client, keys=_audit_keys(keys_env), tenant=tenant).append(
            AuditEvent(kind="key_rotated", actor=actor, key_id=str(key_id), reason=reason)
        )


def _register_keys(keys: typer.Typer) -> None:
    audit_url = typer.Option(None, "--audit-url", help="also record the change in the audit trail")

    @keys.command("generate")
    def keys_generate(
        file: Path = _FILE,
        force: bool = typer.Option(False, "--force", help="overwrite an existing file"),
        kek_env: str | None = _KEK_ENV,
    ) -> None:
        """Create a keyring file holding one fresh primary AES-256 key."""
        from redis_fintech_sdk.codec import Keyring

        if file.exists() and not force:
            raise _fail(f"{file} exists (use --force to overwrite)")
        ring = Keyring.generate()
        _store(file, ring, kek_env)
        console.print(f"generated {file}: primary key id {ring.primary_key_id}")

    @keys.command("list")
    def keys_list(
        file: Path | None = _OPTIONAL_FILE,
        env: str | None = typer.Option(None, "--env", help="environment variable with a keyset"),
        kek_env: str | None = _KEK_ENV,
        as_json: bool = typer.Option(False, "--json", help="print JSON"),
    ) -> None:
        """List key ids, statuses and the primary (never the key material)."""
        from redis_fintech_sdk.codec import keyring_from_env

        if (file is None) == (env is None):
            raise _fail("give exactly one of --file or --env")
        if file is not None:
            ring = _load(file, kek_env)
        else:
            try:
                ring = keyring_from_env(env or "", kms=_kek(kek_env))
            except SDKError as exc:
                raise _fail(str(exc)) from None
        rows = _listing(ring)
        if as_json:
            typer.echo(json.dumps(rows))
            return
        table = Table(title="keyring")
        for col in ("id", "status", "primary"):
            table.add_column(col)
        for row in rows:
            table.add_row(str(row["id"]), row["status"], "*" if row["primary"] else "")
        console.print(table)

    @keys.command("rotate")
    def keys_rotate(
        file: Path = _FILE,
        promote: bool = typer.Option(
            True, "--promote/--stage", help="promote now, or only add (roll out first)"
        ),
        kek_env: str | None = _KEK_ENV,
        audit: str | None = audit_url,
        user: str | None = _USER,
        password_env: str = _PASSWORD_ENV,
        keys_env: str = _KEYS_ENV,
        tenant: str | None = _TENANT,
    ) -> None:
        """Add a new key and (by default) make it the primary; old keys keep decrypting."""
        ring = _load(file, kek_env)
        new_id = ring.generate_key()
        if promote:
            ring.promote(new_id)
        _store(file, ring, kek_env)
        what = "promoted to primary" if promote else "staged (decrypt-only)"
        _audit_rotation(audit, user, password_env, keys_env, tenant, f"key {what}", new_id)
        console.print(f"key {new_id} added to {file}, {what}")

    @keys.command("promote")
    def keys_promote(
        key_id: int = typer.Argument(..., help="key id to make primary"),
        file: Path = _FILE,
        kek_env: str | None = _KEK_ENV,
    ) -> None:
        """Make a staged key the primary."""
        ring = _load(file, kek_env)
        try:
            ring.promote(key_id)
        except SDKError as exc:
            raise _fail(str(exc)) from None
        _store(file, ring, kek_env)
        console.print(f"key {key_id} is now primary")

    @keys.command("retire")
    def keys_retire(
        key_id: int = typer.Argument(..., help="key id to retire"),
        file: Path = _FILE,
        destroy: bool = typer.Option(False, "--destroy", help="erase the material for good"),
        kek_env: str | None = _KEK_ENV,
        audit: str | None = audit_url,
        user: str | None = _USER,
        password_env: str = _PASSWORD_ENV,
        keys_env: str = _KEYS_ENV,
        tenant: str | None = _TENANT,
    ) -> None:
        """Disable a key (frames under it are refused) or destroy it."""
        ring = _load(file, kek_env)
        try:
            ring.destroy(key_id) if destroy else ring.disable(key_id)
        except SDKError as exc:
            raise _fail(str(exc)) from None
        _store(file, ring, kek_env)
        what = "destroyed" if destroy else "disabled"
        _audit_rotation(audit, user, password_env, keys_env, tenant, f"key {what}", key_id)
        console.print(f"key {key_id} {what}")
