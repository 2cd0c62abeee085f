"""Dead-letter entries: what is recorded about a message given up on (sans-I/O).

A dead-letter entry is an ordinary stream entry in ``{stream}:dlq``. It keeps the original
frame under the usual field (so it can be replayed byte for byte) and, beside it, where the
frame came from and why it was given up on. The error text is redacted and truncated; the
frame itself is never logged.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass

from redis_fintech_sdk.errors import redact
from redis_fintech_sdk.streams._config import FRAME_FIELD

__all__ = ["DeadLetter", "DeadLetterReason", "dead_letter_fields", "error_summary"]


class DeadLetterReason(str, enum.Enum):
    """Why an entry was dead-lettered.

    Attributes:
        HANDLER_ERROR: the handler raised on the last permitted attempt (or the ack policy
            rejects on the first error).
        MAX_DELIVERIES: the entry was delivered ``max_attempts`` times without an outcome
            (consumers crashed or timed out while handling it).
        UNDECODABLE: the frame could not be decoded, decrypted or validated.
        MALFORMED_ENTRY: the entry has no frame field.
        MANUAL: the handler dead-lettered it explicitly.
    """

    HANDLER_ERROR = "handler_error"
    MAX_DELIVERIES = "max_deliveries"
    UNDECODABLE = "undecodable"
    MALFORMED_ENTRY = "malformed_entry"
    MANUAL = "manual"


def error_summary(exc: BaseException | None, *, limit: int = 500) -> tuple[str, str]:
    """The ``(type name, redacted and truncated message)`` of an exception.

    Args:
        exc: the exception, or ``None``.
        limit: longest message kept, in characters.
    """
    if exc is None:
        return "", ""
    text = redact(str(exc))
    if len(text) > limit:
        text = text[: max(0, limit - 1)] + "…"
    return type(exc).__name__, text


def dead_letter_fields(
    *,
    frame: bytes | None,
    original_id: str,
    stream: str,
    group: str,
    consumer: str,
    attempts: int,
    reason: DeadLetterReason,
    error_type: str = "",
    error: str = "",
    message_id: str | None = None,
) -> dict[bytes, bytes]:
    """The fields of a dead-letter entry.

    Args:
        frame: the original frame (``None`` when the entry had none).
        original_id: the entry id in the source stream.
        stream: the source stream.
        group: the consumer group that gave up.
        consumer: the consumer that gave up.
        attempts: deliveries so far.
        reason: why.
        error_type: the exception class name, when there was one.
        error: the redacted exception message.
        message_id: the frame's message id, when it could be read.
    """
    fields: dict[bytes, bytes] = {
        b"orig_id": original_id.encode(),
        b"orig_stream": stream.encode(),
        b"group": group.encode(),
        b"consumer": consumer.encode(),
        b"attempts": str(attempts).encode(),
        b"reason": reason.value.encode(),
        b"error_type": error_type.encode(),
        b"error": error.encode(),
    }
    if message_id:
        fields[b"message_id"] = message_id.encode()
    if frame is not None:
        fields[FRAME_FIELD] = frame
    return fields


def _text(fields: Mapping[bytes, bytes], name: bytes) -> str:
    value = fields.get(name, b"")
    return value.decode(errors="replace") if isinstance(value, bytes) else str(value)


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """One entry of a dead-letter stream.

    Attributes:
        id: the entry id in the dead-letter stream.
        original_id: the entry id in the source stream.
        stream: the source stream (replay target).
        group: the group that gave up on it.
        consumer: the consumer that gave up on it.
        attempts: deliveries before it was given up on.
        reason: why it was given up on.
        error_type: exception class name ("" when none).
        error: redacted exception message ("" when none).
        message_id: the frame's message id, when known.
        frame: the original frame (``None`` when the entry had none). Never log it.
    """

    id: str
    original_id: str
    stream: str
    group: str
    consumer: str
    attempts: int
    reason: DeadLetterReason | str
    error_type: str
    error: str
    message_id: str | None
    frame: bytes | None

    @classmethod
    def from_entry(cls, entry_id: str, fields: Mapping[bytes, bytes]) -> DeadLetter:
        """Parse a dead-letter stream entry; unknown reasons are kept as plain strings."""
        raw_reason = _text(fields, b"reason")
        reason: DeadLetterReason | str
        try:
            reason = DeadLetterReason(raw_reason)
        except ValueError:
            reason = raw_reason
        try:
            attempts = int(_text(fields, b"attempts") or 0)
        except ValueError:
            attempts = 0
        frame = fields.get(FRAME_FIELD)
        return cls(
            id=entry_id,
            original_id=_text(fields, b"orig_id"),
            stream=_text(fields, b"orig_stream"),
            group=_text(fields, b"group"),
            consumer=_text(fields, b"consumer"),
            attempts=attempts,
            reason=reason,
            error_type=_text(fields, b"error_type"),
            error=_text(fields, b"error"),
            message_id=_text(fields, b"message_id") or None,
            frame=bytes(frame) if frame is not None else None,
        )

    def __repr__(self) -> str:
        # The frame may hold confidential data: show its size only.
        size = len(self.frame) if self.frame is not None else None
        return (
            f"DeadLetter(id={self.id!r}, original_id={self.original_id!r}, "
            f"stream={self.stream!r}, group={self.group!r}, attempts={self.attempts}, "
            f"reason={self.reason!r}, error_type={self.error_type!r}, frame_bytes={size})"
        )
