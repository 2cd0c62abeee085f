"""Imports point only downward (ARCHITECTURE.md), and the sans-I/O core never imports redis."""

from __future__ import annotations

import ast
from pathlib import Path

import redis_fintech_sdk

PKG = Path(redis_fintech_sdk.__file__).parent

LEVEL = {
    "errors": 0,
    "settings": 0,
    "_version": 0,
    "hooks": 0,
    "connection": 1,
    "codec": 2,
    "channels": 2,
    "resilience": 2,
    "pubsub": 3,
    "streams": 3,
    "security": 3,
    "observability": 3,
    "cache": 3,
    "patterns": 4,
    "gateway": 4,
    "ops": 4,
    "testing": 4,
    "cli": 5,
}
SANS_IO = {"codec", "channels", "resilience"}


def _imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    out: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.extend(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.append(node.module)
    return out


def _layer_of(path: Path) -> str:
    rel = path.relative_to(PKG)
    return rel.parts[0].removesuffix(".py")


def test_imports_point_down() -> None:
    bad: list[str] = []
    for path in PKG.rglob("*.py"):
        if path.name == "__init__.py" and path.parent == PKG:
            continue
        layer = _layer_of(path)
        mine = LEVEL.get(layer)
        assert mine is not None, f"{path}: top-level package {layer!r} has no layer in LEVEL"
        for mod in _imports(path):
            if not mod.startswith("redis_fintech_sdk."):
                continue
            target = mod.split(".")[1]
            theirs = LEVEL.get(target)
            if theirs is None or target == layer:
                continue
            # Same-level siblings may not import each other (except what ARCHITECTURE allows).
            if theirs > mine or (theirs == mine and mine != 0):
                bad.append(f"{path.relative_to(PKG)} imports {mod}")
    assert not bad, "upward or sideways imports:\n" + "\n".join(bad)


def test_errors_module_is_pure() -> None:
    assert not [m for m in _imports(PKG / "errors.py") if m.split(".")[0] in ("redis", "ssl")]


def test_sans_io_core_never_imports_redis() -> None:
    bad = []
    for layer in SANS_IO:
        for path in (PKG / layer).rglob("*.py") if (PKG / layer).exists() else []:
            for mod in _imports(path):
                if mod == "redis" or mod.startswith("redis.") or mod.startswith("socket"):
                    bad.append(f"{path.relative_to(PKG)} imports {mod}")
    assert not bad, "\n".join(bad)
