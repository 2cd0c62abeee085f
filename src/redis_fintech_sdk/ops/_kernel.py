"""Kernel settings Redis cares about, read (never written) from /proc and /sys."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

__all__ = ["KernelSettings", "read_kernel_settings"]


@dataclass(frozen=True, slots=True)
class KernelSettings:
    """What the local kernel says; ``None`` where it could not be read.

    Attributes:
        overcommit_memory: ``vm.overcommit_memory`` (Redis wants ``1`` so BGSAVE and AOF
            rewrites can fork under memory pressure).
        somaxconn: ``net.core.somaxconn`` (caps ``tcp-backlog``).
        transparent_hugepages: the selected THP mode (``always``, ``madvise``, ``never``);
            ``always`` causes latency spikes and memory bloat after fork.
    """

    overcommit_memory: int | None
    somaxconn: int | None
    transparent_hugepages: str | None


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        return None


def _int(text: str | None) -> int | None:
    try:
        return int(text) if text is not None else None
    except ValueError:
        return None


def read_kernel_settings(root: str | Path = "/") -> KernelSettings:
    """Read the settings under ``root`` (``/`` normally; a fake tree in tests)."""
    base = Path(root)
    thp = _read(base / "sys/kernel/mm/transparent_hugepage/enabled")
    selected: str | None = None
    if thp is not None:
        # "always [madvise] never": the bracketed word is the active mode.
        start, end = thp.find("["), thp.find("]")
        selected = thp[start + 1 : end] if 0 <= start < end else thp
    return KernelSettings(
        overcommit_memory=_int(_read(base / "proc/sys/vm/overcommit_memory")),
        somaxconn=_int(_read(base / "proc/sys/net/core/somaxconn")),
        transparent_hugepages=selected,
    )
