from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

import pytest

import redis_fintech_sdk.codec as codec_pkg
from redis_fintech_sdk.codec import Codec, CodecConfig, Verifier
from redis_fintech_sdk.errors import ConfigurationError

CODEC_DIR = Path(codec_pkg.__file__).parent


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"max_frame_size": 0}, "max_frame_size"),
        ({"max_header_size": 70000}, "max_header_size"),
        ({"max_header_entries": True}, "max_header_entries"),
        ({"compression_level": 30}, "compression_level"),
        ({"compression_threshold": -1}, "compression_threshold"),
        ({"compression_dictionary_id": 4}, "compression_dictionary_id"),
        ({"require_signature": True}, "require_signature"),
        ({"producer_id": ""}, "producer_id"),
        ({"encrypt_classifications": frozenset({"nope"})}, "encrypt_classifications"),
        ({"keyring": "secret"}, "keyring"),
        ({"serializer": object()}, "serializer"),
        ({"clock": 5}, "clock"),
    ],
)
def test_bad_config_names_the_field(kwargs: dict[str, Any], field: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        CodecConfig(**kwargs)
    assert info.value.field == field
    with pytest.raises(ConfigurationError):
        Codec(**kwargs)


def test_config_is_frozen_and_keyword_only() -> None:
    cfg = CodecConfig(producer_id="p")
    with pytest.raises(AttributeError):
        cfg.producer_id = "q"  # type: ignore[misc]
    with pytest.raises(TypeError):
        CodecConfig("p")  # type: ignore[arg-type, call-arg]
    with pytest.raises(ConfigurationError) as info:
        Codec(cfg, no_such_setting=1)
    assert info.value.field == "no_such_setting"
    assert Codec(cfg, max_frame_size=4096).config.max_frame_size == 4096
    assert CodecConfig(require_signature=True, verifier=Verifier({})).require_signature


def test_codec_modules_never_import_redis() -> None:
    for path in CODEC_DIR.glob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""] if node.level == 0 else []
            else:
                continue
            for name in names:
                assert name.split(".")[0] != "redis", f"{path.name} imports {name}"


def test_modules_are_small() -> None:
    # STYLE.md: aim under ~400 lines. codec.py (the Codec class) is the one near the edge.
    for path in CODEC_DIR.glob("*.py"):
        limit = 480 if path.name == "codec.py" else 400
        assert len(path.read_text().splitlines()) < limit, path.name
