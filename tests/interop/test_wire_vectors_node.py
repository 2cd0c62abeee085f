"""The independent Node.js decoder (tests/interop/wire_v1.mjs) agrees with tests/vectors/.

wire_v1.mjs is written from docs/wire-format.md alone and uses only Node's standard library;
these tests run it and check its JSON summary. They need ``node`` on PATH (skipped otherwise).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).parent
SCRIPT = HERE / "wire_v1.mjs"
VECTOR_FILES = sorted((HERE.parent / "vectors").glob("wire-v1*.json"))
NODE = shutil.which("node")

pytestmark = pytest.mark.skipif(NODE is None, reason="node (Node.js) is not on PATH")


def _run(*files: Path) -> tuple[int, dict[str, Any]]:
    assert NODE is not None
    proc = subprocess.run(
        [NODE, str(SCRIPT), *map(str, files)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.stdout, f"no summary from wire_v1.mjs; stderr:\n{proc.stderr}"
    summary: dict[str, Any] = json.loads(proc.stdout)
    return proc.returncode, summary


def _load(path: Path) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(path.read_text())
    return doc


def test_node_decoder_passes_every_vector() -> None:
    assert VECTOR_FILES, "no tests/vectors/wire-v1*.json"
    docs = [_load(p) for p in VECTOR_FILES]
    vectors = [v for d in docs for v in d["vectors"]]
    uncompressed = [v for v in vectors if not v["compressed"]]
    invalid = [v for d in docs for v in d.get("invalid", [])]

    code, summary = _run(*VECTOR_FILES)

    assert code == 0, json.dumps(summary["failures"], indent=2)
    assert summary["failures"] == []
    # Not vacuous: every uncompressed vector and every invalid frame was checked and passed,
    # and every uncompressed vector was also re-encoded to the same bytes.
    assert summary["checked"] >= len(uncompressed) + len(invalid)
    assert summary["passed"] == summary["checked"]
    assert summary["reencoded"] == len(uncompressed)
    # The only acceptable skip is a compressed vector on a Node without zstd in node:zlib.
    by_name = {v["name"]: v for v in vectors}
    for skip in summary["skipped"]:
        assert not summary["zstd"], skip
        assert "zstd" in skip["reason"], skip
        assert skip["kind"] == "vector", skip
        assert by_name[skip["name"]]["compressed"], skip
        # ... and even then its header, signature, decryption and zstd frame header were checked.
        assert "zstd header checked" in skip["checked_steps"], skip
    assert summary["checked"] + len(summary["skipped"]) == len(vectors) + len(invalid)


def _sealed_vector() -> dict[str, Any]:
    doc = _load(VECTOR_FILES[0])
    return next(v for v in doc["vectors"] if v["encrypted"] and not v["signed"])


def _tampered(case: dict[str, Any], where: str) -> dict[str, Any]:
    frame = bytearray.fromhex(case["frame"])
    header_len = int.from_bytes(frame[4:6], "little")
    # "body": a ciphertext byte; "header": the sequence number (authenticated as AAD).
    pos = 6 + header_len + 20 if where == "body" else 30
    frame[pos] ^= 0x01
    return {**case, "name": f"{case['name']}-{where}-tampered", "frame": frame.hex()}


@pytest.mark.parametrize("where", ["body", "header"])
def test_node_decoder_refuses_a_tampered_sealed_frame(tmp_path: Path, where: str) -> None:
    doc = _load(VECTOR_FILES[0])
    bad = _tampered(_sealed_vector(), where)

    # Listed as a good vector: the decoder must refuse it, so the run fails.
    as_vector = tmp_path / "as-vector.json"
    as_vector.write_text(json.dumps({**doc, "vectors": [bad], "invalid": []}))
    code, summary = _run(as_vector)
    assert code == 1
    assert summary["passed"] == 0
    [failure] = summary["failures"]
    assert failure["name"] == bad["name"]
    assert failure["reason"].startswith("refused: DecryptionError"), failure

    # Listed as an invalid frame with the spec's error: the run passes.
    as_invalid = tmp_path / "as-invalid.json"
    invalid = {"name": bad["name"], "frame": bad["frame"], "channel": bad["channel"]}
    as_invalid.write_text(
        json.dumps({**doc, "vectors": [], "invalid": [{**invalid, "error": "DecryptionError"}]})
    )
    code, summary = _run(as_invalid)
    assert code == 0, summary["failures"]
    assert (summary["checked"], summary["passed"]) == (1, 1)
