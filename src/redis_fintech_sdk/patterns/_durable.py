"""The shared core of the trading, risk and compliance helpers.

An append keyed by a business id (exactly one stream entry per id within the dedup window),
then an optional low-latency Pub/Sub copy that is sent only by the append that created the
entry.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from redis_fintech_sdk.channels import Channel
from redis_fintech_sdk.connection import AsyncClient
from redis_fintech_sdk.errors import ConfigurationError
from redis_fintech_sdk.pubsub import AsyncPublisher
from redis_fintech_sdk.streams import AsyncStreamProducer, Durability, FrameCodec, Retention

__all__ = ["Confirmation", "require_encryption"]


@dataclass(frozen=True)
class Confirmation:
    """The outcome of one durable publish.

    Attributes:
        entry_id: the stream entry holding the message (the existing one for a duplicate).
        duplicate: an entry with the same business id was already appended within the
            dedup window; nothing new was written or published.
        receivers: Pub/Sub subscribers that got the low-latency copy (0 when not sent).
    """

    entry_id: str | None
    duplicate: bool
    receivers: int = 0


def require_encryption(codec: Any, what: str, field: str = "codec") -> None:
    """Refuse a codec that cannot encrypt when ``what`` is confidential.

    Custom codecs without a ``config.keyring`` are trusted as given.

    Raises:
        ConfigurationError: the SDK codec has no keyring.
    """
    config = getattr(codec, "config", None)
    if config is not None and hasattr(config, "keyring") and config.keyring is None:
        raise ConfigurationError(field, f"{what} is confidential: give a codec with a keyring")


class KeyedStream:
    """A stream producer whose idempotency key is a business id, shared by all processes.

    Every instance with the same ``stream`` and ``producer_id`` shares one dedup record in
    Redis, so the same id appended by two processes (or twice by one) leaves one entry.
    """

    def __init__(
        self,
        client: AsyncClient,
        stream: str,
        *,
        producer_id: str,
        codec: FrameCodec | None,
        dedup_window: float,
        dedup_max_ids: int,
        retention: Retention | None,
        durability: Durability | None,
    ) -> None:
        self.producer = AsyncStreamProducer(
            client,
            stream,
            codec=codec,
            retention=retention,
            durability=durability,
            producer_id=producer_id,
            dedup_window=dedup_window,
            dedup_max_ids=dedup_max_ids,
        )
        self.stream = stream

    async def append(self, message: Any, key: str) -> tuple[str, bool]:
        """Append ``message`` under ``key``; return ``(entry id, duplicate)``.

        ``duplicate`` is true only when the first attempt already found ``key`` (an earlier
        call or another process added it). A duplicate found on a retry may be this call's
        own first attempt, whose reply was lost: that counts as new, so the caller still
        sends its Pub/Sub copy (at least once).

        Raises:
            CodecError: the message cannot be encoded (or a policy refuses it).
            RedisError: the append failed after retries.
        """
        result = await self.producer.append(message, idempotency_key=key)
        return result.entry_id, result.added_by_this_call is False


async def publish_copy(
    publisher: AsyncPublisher | None,
    message: Any,
    channel: Channel,
    headers: Mapping[str, str],
) -> int:
    """Publish the low-latency copy, when there is a publisher.

    Raises:
        RedisError: the publish failed.
    """
    if publisher is None:
        return 0
    return await publisher.publish(message, channel, headers=dict(headers))
