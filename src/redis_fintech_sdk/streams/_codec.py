"""The small codec protocol the Streams layer needs, and a pass-through implementation.

The Streams layer moves *frames* (bytes). It needs three things from a codec: turn a
message into a frame, turn a frame back into something the handler understands, and read
the frame's message id without decoding the body (for idempotency and dead letters). Any
object with those three methods works, so the layer does not depend on the codec's
internals; :func:`default_codec` returns the SDK's wire-format codec when it is available.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

from redis_fintech_sdk.errors import CodecError, FrameError

__all__ = ["FrameCodec", "RawFrameCodec", "default_codec", "frame_message_id"]


@runtime_checkable
class FrameCodec(Protocol):
    """What a stream producer and consumer need from a codec."""

    def encode(self, message: Any, *, channel: str) -> bytes:
        """Turn a message (or envelope) into a frame bound to ``channel``.

        Raises:
            CodecError: the message cannot be encoded.
        """
        ...

    def decode(self, frame: bytes, *, channel: str) -> Any:
        """Turn a frame read from ``channel`` back into an envelope.

        Raises:
            CodecError: the frame is malformed, unknown, or fails authentication.
        """
        ...

    def peek_header(self, frame: bytes) -> Any:
        """Read the plaintext header (with a ``message_id`` attribute) without the body.

        Raises:
            CodecError: the frame is malformed.
        """
        ...


class RawFrameCodec:
    """A pass-through codec: frames are the caller's bytes; there is no message id.

    Useful for interop with producers that do not speak wire format v1, and in tests. An
    empty frame is refused on decode so that a missing body is dead-lettered.
    """

    def encode(self, message: Any, *, channel: str) -> bytes:
        """Return ``message`` itself when it is bytes.

        Raises:
            CodecError: ``message`` is not bytes.
        """
        if isinstance(message, (bytes, bytearray, memoryview)):
            return bytes(message)
        raise CodecError("RawFrameCodec only carries bytes", channel=channel)

    def decode(self, frame: bytes, *, channel: str) -> bytes:
        """Return the frame unchanged.

        Raises:
            FrameError: the frame is empty.
        """
        if not frame:
            raise FrameError("empty frame", channel=channel)
        return frame

    def peek_header(self, frame: bytes) -> None:
        """Raw frames carry no header."""
        return None

    def __repr__(self) -> str:
        return "RawFrameCodec()"


def frame_message_id(codec: FrameCodec, frame: bytes) -> str | None:
    """The message id in ``frame``'s header, or ``None`` when there is none or it is bad."""
    try:
        header = codec.peek_header(frame)
    except CodecError:
        return None
    value = getattr(header, "message_id", None)
    if isinstance(value, bytes):
        return value.hex()
    return value if isinstance(value, str) and value else None


def default_codec() -> FrameCodec:
    """The SDK's wire-format codec when it can be built with no arguments, else raw frames."""
    try:
        from redis_fintech_sdk import codec as _codec_pkg

        factory = getattr(_codec_pkg, "Codec", None)
        if factory is not None:
            candidate = factory()
            if isinstance(candidate, FrameCodec):
                return candidate
    except (ImportError, TypeError, ValueError):
        pass
    return RawFrameCodec()
