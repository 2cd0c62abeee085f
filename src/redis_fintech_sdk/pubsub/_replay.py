r"""Replayable topics: Pub/Sub plus a capped stream, written in one atomic step. Sans-I/O part.

A replayable publish runs one Lua script that ``XADD``\\ s the frame to the topic's stream
and ``PUBLISH``\\ es it, prefixed with the new stream id, on the channel. Subscribers learn
the stream id of every live message, so after a reconnect they resume from the exact last
id they saw (``XRANGE (id +``) and skip live messages they already caught up with.

Replay prefix (outside the codec's frame, so the frame and its AAD are untouched)::

    C1 52 | u8 length | stream id (ASCII) | frame

``0xC1`` is never valid MessagePack and ``C1 46`` is the frame magic, so a replay message is
never mistaken for a frame.
"""

from __future__ import annotations

from dataclasses import dataclass

from redis_fintech_sdk.errors import ConfigurationError, FrameError

__all__ = ["REPLAY_MAGIC", "ReplayConfig", "split_replay", "stream_id_key"]

REPLAY_MAGIC = b"\xc1\x52"

PUBLISH_SCRIPT = """\
local id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[3], '*', 'f', ARGV[2])
local n = redis.call(ARGV[4], ARGV[1], string.char(0xC1, 0x52, #id) .. id .. ARGV[2])
return {n, id}
"""


@dataclass(frozen=True, kw_only=True)
class ReplayConfig:
    """Which channels are replayable and how long their streams are.

    Attributes:
        channels: globs over channel names that are replayable (``("orders.*",)``).
        maxlen: approximate number of entries each stream keeps (the retention window).
        prefix: stream key prefix; the stream of channel ``c`` is ``prefix + c``.
        batch: entries read per ``XRANGE`` during catch-up.

    Raises:
        ConfigurationError: ``maxlen`` or ``batch`` < 1, or no channels.
    """

    channels: tuple[str, ...]
    maxlen: int = 10_000
    prefix: str = "rfsdk:replay:"
    batch: int = 500

    def __post_init__(self) -> None:
        if not self.channels:
            raise ConfigurationError("replay.channels", "name at least one channel glob")
        if self.maxlen < 1:
            raise ConfigurationError("replay.maxlen", "must be >= 1")
        if self.batch < 1:
            raise ConfigurationError("replay.batch", "must be >= 1")

    def applies_to(self, channel: str) -> bool:
        """Whether ``channel`` is replayable."""
        from redis_fintech_sdk.channels import glob_match

        return any(glob_match(g, channel) for g in self.channels)

    def stream_key(self, channel: str) -> str:
        """The stream that backs ``channel``."""
        return self.prefix + channel


def split_replay(data: bytes) -> tuple[str | None, bytes]:
    """Split a live message into ``(stream id, frame)``; ``(None, data)`` when not prefixed.

    Raises:
        FrameError: the prefix is truncated.
    """
    if data[:2] != REPLAY_MAGIC:
        return None, data
    if len(data) < 3:
        raise FrameError("truncated replay prefix")
    n = data[2]
    if len(data) < 3 + n:
        raise FrameError("truncated replay prefix")
    return data[3 : 3 + n].decode("ascii", "replace"), data[3 + n :]


def stream_id_key(stream_id: str) -> tuple[int, int]:
    """A sortable key for a stream id ``"<ms>-<seq>"``.

    Raises:
        FrameError: not a stream id.
    """
    ms, _, seq = stream_id.partition("-")
    try:
        return int(ms), int(seq or 0)
    except ValueError:
        raise FrameError("malformed stream id") from None
