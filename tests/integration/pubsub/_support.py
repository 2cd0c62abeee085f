"""Shared helpers of the Pub/Sub integration and chaos tests."""

from __future__ import annotations

from redis_fintech_sdk.codec import Codec, Message, default_registry, message
from redis_fintech_sdk.pubsub import SubscriberEvent

if default_registry.get("test.pubsub.tick") is None:

    @message("test.pubsub.tick", version=1)
    class Tick(Message):
        """A test price tick."""

        symbol: str
        n: int

else:  # pragma: no cover - re-imported under another module name
    Tick = default_registry.get("test.pubsub.tick").model  # type: ignore[union-attr,misc]


def codec() -> Codec:
    """A fresh codec (new producer id, sequences from 1)."""
    return Codec()


class EventLog(list[SubscriberEvent]):
    """Collects subscriber events; ``of(T)`` filters by type."""

    def of(self, kind: type) -> list[SubscriberEvent]:
        return [e for e in self if isinstance(e, kind)]
