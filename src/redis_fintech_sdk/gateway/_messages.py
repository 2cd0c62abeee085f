"""What the gateway fans out: decoded messages and notices, rendered to JSON once (sans-I/O)."""

from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass, field
from typing import Any

import msgspec
from pydantic import BaseModel

__all__ = ["GatewayMessage", "Notice", "jsonable", "stream_position"]

_STREAM_ID = re.compile(r"[0-9]{1,20}-[0-9]{1,20}")


def stream_position(text: str) -> tuple[int, int] | None:
    """``(ms, seq)`` of a Redis stream id ``"<ms>-<seq>"``; ``None`` for anything else."""
    if not _STREAM_ID.fullmatch(text):
        return None
    ms, _, seq = text.partition("-")
    return int(ms), int(seq)


def jsonable(value: Any) -> Any:
    """Turn a decoded payload into JSON-ready data.

    A pydantic :class:`~redis_fintech_sdk.codec.Message` dumps in JSON mode, a
    ``msgspec.Struct`` through ``to_builtins``, bytes as base64; anything else is left to
    ``json.dumps(default=str)``. Nothing is redacted beyond what the codec already did: a
    client only gets a channel its token allows.
    """
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, msgspec.Struct):
        return msgspec.to_builtins(value, enc_hook=str)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return {"base64": base64.b64encode(bytes(value)).decode("ascii")}
    return value


def dumps(obj: Any) -> str:
    """Compact JSON; unknown objects become their ``str``."""
    return json.dumps(obj, separators=(",", ":"), default=str, ensure_ascii=False)


@dataclass(frozen=True, slots=True)
class GatewayMessage:
    """One Pub/Sub message on its way to clients.

    Attributes:
        channel: the channel it was published on.
        pattern: the pattern subscription it matched (``None`` for a channel subscription).
        message_id: the envelope's time-ordered id (``None`` for a non-SDK frame).
        sequence: the producer's per-channel sequence (``None`` for a non-SDK frame).
        producer_id: the producer (``None`` for a non-SDK frame).
        type: the message type (``None`` for a non-SDK frame).
        payload: JSON-ready payload.
        stream_id: the replay stream id, for replayed messages.
        json: the ``{"op": "message", ...}`` text sent to clients, rendered once.
    """

    channel: str
    pattern: str | None
    message_id: str | None
    sequence: int | None
    producer_id: str | None
    type: str | None
    payload: Any
    stream_id: str | None = None
    json: str = field(default="", repr=False, compare=False)

    @classmethod
    def build(
        cls,
        *,
        channel: str,
        pattern: str | None,
        message_id: str | None,
        sequence: int | None,
        producer_id: str | None,
        type: str | None,
        payload: Any,
        stream_id: str | None = None,
    ) -> GatewayMessage:
        """Build and render the client JSON once (shared by every client)."""
        text = dumps(
            {
                "op": "message",
                "channel": channel,
                "pattern": pattern,
                "message_id": message_id,
                "sequence": sequence,
                "producer_id": producer_id,
                "type": type,
                "payload": payload,
            }
        )
        return cls(
            channel, pattern, message_id, sequence, producer_id, type, payload, stream_id, text
        )

    @property
    def event_id(self) -> str | None:
        """The SSE ``id:``: ``<producer>:<sequence>:<message id>`` (or the replay stream id).

        Pub/Sub cannot be replayed, so the id is a position a client can report and compare
        (gap detection per producer), not a cursor the gateway can rewind to.
        """
        if self.stream_id is not None:
            return self.stream_id
        if self.message_id is None:
            return None
        return f"{self.producer_id}:{self.sequence}:{self.message_id}"


@dataclass(frozen=True, slots=True)
class Notice:
    """A control event for one client: ``gap`` (messages Redis never delivered) or ``dropped``.

    Attributes:
        event: ``gap`` or ``dropped``.
        data: its JSON-ready fields.
    """

    event: str
    data: dict[str, Any]

    @property
    def json(self) -> str:
        """``{"op": <event>, ...}``."""
        return dumps({"op": self.event, **self.data})
