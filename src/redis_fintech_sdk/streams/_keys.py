"""Key names that belong to one stream, all in the stream's cluster hash slot (sans-I/O).

Every helper key (dead letters, producer dedup, exactly-once markers) is built so that it
hashes to the same slot as the stream itself: a stream ``trades`` gets ``{trades}:dlq``
(Redis Cluster hashes only ``trades`` inside the braces, exactly what it hashes for the bare
name), and a stream that already carries a tag, ``orders:{eu}``, gets ``orders:{eu}:dlq``.
That keeps multi-key Lua scripts and MULTI/EXEC blocks legal on a cluster.
"""

from __future__ import annotations

from dataclasses import dataclass

from redis_fintech_sdk.channels import hash_tag
from redis_fintech_sdk.errors import ConfigurationError

__all__ = ["StreamKeys", "related_key"]

_MAX_NAME = 1024


def _check_stream_name(stream: str) -> None:
    if not isinstance(stream, str) or not stream:
        raise ConfigurationError("stream", "must be a non-empty string")
    if len(stream) > _MAX_NAME:
        raise ConfigurationError("stream", f"longer than {_MAX_NAME} characters")
    has_tag = hash_tag(stream) != stream.encode("utf-8")
    if not has_tag and "}" in stream:
        # "{a}b}" would hash "a", not the whole name: refuse rather than split slots.
        raise ConfigurationError("stream", "a '}' is only allowed as part of a {hash tag}")


def related_key(stream: str, suffix: str) -> str:
    """Return ``stream`` + ``suffix`` as a key in the same cluster slot as ``stream``.

    Args:
        stream: the stream key.
        suffix: what to append, e.g. ``":dlq"``.

    Raises:
        ConfigurationError: the stream name is empty, too long, or has a stray ``}``.
    """
    _check_stream_name(stream)
    if hash_tag(stream) != stream.encode("utf-8"):
        return stream + suffix
    return "{" + stream + "}" + suffix


@dataclass(frozen=True, slots=True)
class StreamKeys:
    """The keys the SDK uses around one stream.

    Attributes:
        stream: the stream key itself.
        dead_letters: the dead-letter stream.
    """

    stream: str
    dead_letters: str

    @classmethod
    def for_stream(cls, stream: str, *, dead_letters: str | None = None) -> StreamKeys:
        """Derive the key family of ``stream``.

        Args:
            stream: the stream key.
            dead_letters: an explicit dead-letter stream (must share the stream's slot on
                a cluster); by default ``related_key(stream, ":dlq")``.

        Raises:
            ConfigurationError: the stream name is invalid.
        """
        dlq = dead_letters if dead_letters is not None else related_key(stream, ":dlq")
        return cls(stream=stream, dead_letters=dlq)

    def idempotent_producer(self, producer_id: str) -> tuple[str, str]:
        """The (hash, zset) pair that remembers one producer's recent idempotency ids."""
        base = related_key(self.stream, f":idmp:{producer_id}")
        return base, base + ":t"

    def processed_marker(self, group: str, message_id: str) -> str:
        """The exactly-once marker of one message id processed by ``group``."""
        return related_key(self.stream, f":done:{group}:{message_id}")

    def probe(self) -> str:
        """A scratch key for feature probes (never created)."""
        return related_key(self.stream, ":probe")
