from __future__ import annotations

import runpy
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).parents[3] / "examples"


@pytest.mark.parametrize("name", ["encrypted_message.py", "key_rotation.py"])
def test_example_runs(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    module = runpy.run_path(str(EXAMPLES / name))
    assert module["main"]() == 0
    out = capsys.readouterr().out
    assert "DecryptionError" in out
    if name == "encrypted_message.py":
        assert "DE89370400440532013000" not in out
        assert "***" in out
    else:
        assert "new frames use key 2" in out
        assert "now under key 2" in out


def test_struct_example_runs(capsys: pytest.CaptureFixture[str]) -> None:
    module = runpy.run_path(str(EXAMPLES / "struct_messages.py"))
    assert module["main"]() == 0
    out = capsys.readouterr().out
    assert "quote round trip equal: True" in out
    assert "Decimal('410.1')" in out
    assert "4111111111111111" not in out
    assert "SchemaError: md.quote v2 invalid: $.bid" in out
