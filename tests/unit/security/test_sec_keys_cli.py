"""``rfsdk keys``: generate, list, rotate, promote, retire — never printing key material."""

from __future__ import annotations

import base64
import json
import os
import stat
from pathlib import Path

from typer.testing import CliRunner

from redis_fintech_sdk.cli._app import build_app
from redis_fintech_sdk.codec import KeyStatus, keyring_from_file


def _run(*args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    res = CliRunner().invoke(build_app(), list(args), env=env)
    return res.exit_code, res.output


def _material(path: Path) -> list[str]:
    doc = json.loads(path.read_text())
    return [k.get("key") or k.get("wrapped") for k in doc["keys"] if k["status"] != "destroyed"]


def test_key_lifecycle(tmp_path: Path, log_secrets: set[str]) -> None:
    ring = tmp_path / "ring.json"
    code, out = _run("keys", "generate", "--file", str(ring))
    assert code == 0, out
    assert stat.S_IMODE(os.stat(ring).st_mode) == 0o600
    assert _run("keys", "generate", "--file", str(ring))[0] == 2  # no silent overwrite
    code, out = _run("keys", "rotate", "--file", str(ring), "--stage")
    assert code == 0, out
    loaded = keyring_from_file(ring)
    assert loaded.primary_key_id == 1
    assert loaded.key_ids() == [1, 2]
    assert _run("keys", "promote", "2", "--file", str(ring))[0] == 0
    assert _run("keys", "retire", "1", "--file", str(ring))[0] == 0
    code, out = _run("keys", "list", "--file", str(ring), "--json")
    assert code == 0, out
    assert json.loads(out) == [
        {"id": 1, "status": "disabled", "primary": False},
        {"id": 2, "status": "enabled", "primary": True},
    ]
    assert _run("keys", "retire", "2", "--file", str(ring))[0] == 2  # the primary
    assert _run("keys", "retire", "1", "--destroy", "--file", str(ring))[0] == 0
    assert keyring_from_file(ring).status(1) is KeyStatus.DESTROYED
    secrets_ = _material(ring)
    log_secrets.update(secrets_)
    code, out = _run("keys", "list", "--env", "RING", env={"RING": ring.read_text()})
    assert code == 0, out
    assert all(s not in out for s in secrets_)


def test_kek_wrapped_keyring(tmp_path: Path, log_secrets: set[str]) -> None:
    kek = base64.b64encode(os.urandom(32)).decode()
    log_secrets.add(kek)
    ring = tmp_path / "wrapped.json"
    env = {"KEK": kek}
    assert _run("keys", "generate", "--file", str(ring), "--kek-env", "KEK", env=env)[0] == 0
    assert '"wrapped"' in ring.read_text()
    assert '"key"' not in ring.read_text()
    assert _run("keys", "rotate", "--file", str(ring), "--kek-env", "KEK", env=env)[0] == 0
    code, out = _run("keys", "list", "--file", str(ring), "--kek-env", "KEK", "--json", env=env)
    assert code == 0, out
    assert [k["primary"] for k in json.loads(out)] == [False, True]
    assert _run("keys", "list", "--file", str(ring))[0] == 2  # wrapped: needs the KEK
    assert _run("keys", "list")[0] == 2  # neither --file nor --env
