"""A tiny YAML emitter for the compose files (dicts, lists, strings, numbers, booleans).

Strings are always double-quoted (JSON escaping is valid YAML), so no value can be misread
as another type or break the structure. Kept here so rendering needs no YAML library.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["dump_yaml"]


def _scalar(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    return json.dumps(str(value))


def _key(key: str) -> str:
    safe = key.replace("-", "").replace("_", "").replace(".", "").isalnum()
    return key if safe and not key[0].isdigit() else json.dumps(key)


def _lines(value: Any, indent: int) -> list[str]:
    pad = "  " * indent
    out: list[str] = []
    if isinstance(value, Mapping):
        for key, item in value.items():
            if isinstance(item, Mapping | list | tuple) and item:
                out.append(f"{pad}{_key(str(key))}:")
                out.extend(_lines(item, indent + 1))
            elif isinstance(item, Mapping):
                out.append(f"{pad}{_key(str(key))}: {{}}")
            elif isinstance(item, list | tuple):
                out.append(f"{pad}{_key(str(key))}: []")
            else:
                out.append(f"{pad}{_key(str(key))}: {_scalar(item)}")
    elif isinstance(value, Sequence) and not isinstance(value, str):
        for item in value:
            if isinstance(item, Mapping) and item:
                inner = _lines(item, indent + 1)
                out.append(f"{pad}- {inner[0].lstrip()}")
                out.extend(inner[1:])
            else:
                out.append(f"{pad}- {_scalar(item)}")
    else:
        out.append(f"{pad}{_scalar(value)}")
    return out


def dump_yaml(document: Mapping[str, Any], *, header: str = "") -> str:
    """Emit ``document`` as block-style YAML (``header`` lines become comments)."""
    lines = [f"# {h}" if h else "#" for h in header.splitlines()]
    return "\n".join([*lines, *_lines(document, 0)]) + "\n"
