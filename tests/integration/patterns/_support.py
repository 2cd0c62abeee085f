"""Helpers of the pattern helpers' integration tests."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class WebhookServer:
    """Answers each POST with the next scripted status (200 once the script is used up)."""

    url: str = ""
    statuses: list[int] = field(default_factory=list)
    requests: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def script(self, *statuses: int) -> None:
        with self.lock:
            self.statuses[:] = statuses

    def next_status(self) -> int:
        with self.lock:
            return self.statuses.pop(0) if self.statuses else 200
