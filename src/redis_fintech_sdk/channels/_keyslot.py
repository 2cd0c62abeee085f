"""Redis Cluster key slots: CRC16 (XMODEM) modulo 16384, with the hash-tag rule.

Sharded Pub/Sub (``SPUBLISH``/``SSUBSCRIBE``) routes a channel exactly like a key, so
channels that must live on one shard (all depth levels of one symbol, say) share a hash tag:
``market.depth.XNAS.{AAPL}`` and ``market.trades.{AAPL}`` hash only ``AAPL``.
"""

from __future__ import annotations

__all__ = ["SLOT_COUNT", "crc16", "hash_tag", "keyslot"]

SLOT_COUNT = 16384


def _make_table() -> tuple[int, ...]:
    table = []
    for byte in range(256):
        crc = byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else (crc << 1)
        table.append(crc & 0xFFFF)
    return tuple(table)


_TABLE = _make_table()


def crc16(data: bytes) -> int:
    """CRC16-CCITT (XMODEM: polynomial 0x1021, initial value 0), as in Redis ``crc16.c``.

    Args:
        data: the bytes to checksum.

    Returns:
        The 16-bit checksum (``crc16(b"123456789") == 0x31C3``).
    """
    crc = 0
    for byte in data:
        crc = ((crc << 8) & 0xFFFF) ^ _TABLE[((crc >> 8) ^ byte) & 0xFF]
    return crc


def hash_tag(name: str | bytes) -> bytes:
    """Return the part of ``name`` that Redis Cluster hashes.

    The rule (``keyHashSlot`` in Redis ``cluster.c``): if the name has a ``{``, and a ``}``
    somewhere after that first ``{``, and at least one byte between them, only those bytes
    are hashed; otherwise the whole name is.

    Args:
        name: a key or channel name; ``str`` is encoded as UTF-8.

    Returns:
        The bytes that decide the slot.
    """
    data = name.encode("utf-8") if isinstance(name, str) else bytes(name)
    start = data.find(b"{")
    if start == -1:
        return data
    end = data.find(b"}", start + 1)
    if end == -1 or end == start + 1:
        return data
    return data[start + 1 : end]


def keyslot(name: str | bytes) -> int:
    """Return the Redis Cluster slot (0-16383) of a key or sharded channel.

    Args:
        name: a key or channel name (a :class:`Channel` converts with ``str()``).

    Returns:
        ``crc16(hash_tag(name)) % 16384`` — identical to ``CLUSTER KEYSLOT``.
    """
    return crc16(hash_tag(name)) % SLOT_COUNT
