"""Fixtures for the codec tests: a private registry with a few message types, keyrings.

Test modules use these through fixtures only (no imports from conftest), so that mypy and
pytest resolve them the same way.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import msgpack
import pytest

from redis_fintech_sdk.codec import (
    MSGPACK,
    Codec,
    Keyring,
    Message,
    MessageRegistry,
    Money,
    SensitiveStr,
    Signer,
    Timestamp,
    Verifier,
    message,
    upcaster,
)

REGISTRY = MessageRegistry()


@message("md.tick", version=1, classification="public", registry=REGISTRY)
class Tick(Message):
    symbol: str
    bid: Money
    ask: Money
    at: Timestamp


@message("trade.executed", version=3, classification="confidential", registry=REGISTRY)
class TradeExecuted(Message):
    trade_id: str
    price: Money
    quantity: int
    account: SensitiveStr


@upcaster("trade.executed", from_version=1, registry=REGISTRY)
def _trade_v1_to_v2(p: dict[str, Any]) -> dict[str, Any]:
    p["price"] = {"amount": p.pop("px"), "currency": p.pop("ccy")}
    return p


@upcaster("trade.executed", from_version=2, registry=REGISTRY)
def _trade_v2_to_v3(p: dict[str, Any]) -> dict[str, Any]:
    p["quantity"] = int(p.pop("qty"))
    return p


def make_tick() -> Tick:
    return Tick(
        symbol="AAPL",
        bid=Money(amount=Decimal("189.12"), currency="USD"),
        ask=Money(amount=Decimal("189.13"), currency="USD"),
        at=Timestamp(1_714_564_800_123_456_789),
    )


def make_trade() -> TradeExecuted:
    return TradeExecuted(
        trade_id="T-1",
        price=Money(amount=Decimal("101.25"), currency="EUR"),
        quantity=10,
        account="ACCT-SECRET-4242",
    )


@pytest.fixture
def registry() -> MessageRegistry:
    return REGISTRY


@pytest.fixture
def tick() -> Message:
    return make_tick()


@pytest.fixture
def trade() -> Message:
    return make_trade()


@pytest.fixture
def keyring() -> Keyring:
    return Keyring.generate(1)


@pytest.fixture
def signer() -> Signer:
    return Signer.generate("producer-a")


@pytest.fixture
def make_codec(keyring: Keyring, signer: Signer) -> Callable[..., Codec]:
    def build(
        *,
        serializer: Any = MSGPACK,
        compress: bool = False,
        encrypt: bool = True,
        sign: bool = False,
        **extra: Any,
    ) -> Codec:
        extra.setdefault("keyring", keyring)
        extra.setdefault("verifier", Verifier({signer.signer_id: signer.public_key()}))
        extra.setdefault("signer", signer if sign else None)
        return Codec(
            registry=REGISTRY,
            serializer=serializer,
            encrypt=encrypt,
            compression_threshold=0 if compress else None,
            **extra,
        )

    return build


_FIXED = struct.Struct("<16sQQIIBH")  # docs/wire-format.md §2, after the 6-byte prefix


class HeaderTools:
    """Read and rewrite a frame's header as one dict (keys 0-6 fixed, 7+ extension map)."""

    @staticmethod
    def split(frame: bytes) -> tuple[int, dict[int, Any]]:
        off = 6 + int.from_bytes(frame[4:6], "little")
        mid, ts, seq, ver, kid, tlen, plen = _FIXED.unpack_from(frame, 6)
        p, q = 49 + tlen, 49 + tlen + plen
        ext = msgpack.unpackb(frame[q:off], strict_map_key=False) if q < off else {}
        fixed = {0: mid, 1: frame[49:p].decode(), 2: ver, 3: ts, 4: frame[p:q].decode(), 5: seq}
        return off, {**fixed, 6: kid, **ext}

    @staticmethod
    def join(frame: bytes, header: dict[int, Any], *, raw_ext: bytes | None = None) -> bytes:
        """``frame`` with its header replaced (the body and signature are kept as they are)."""
        off = 6 + int.from_bytes(frame[4:6], "little")
        tb: bytes = header[1].encode()
        pb: bytes = header[4].encode()
        ext = {k: v for k, v in header.items() if not 0 <= k <= 6}
        xb: bytes = raw_ext if raw_ext is not None else (msgpack.packb(ext) if ext else b"")
        fixed = _FIXED.pack(header[0], header[3], header[5], header[2], header[6], len(tb), len(pb))
        hb = fixed + tb + pb + xb
        return frame[:4] + len(hb).to_bytes(2, "little") + hb + frame[off:]


@pytest.fixture
def headers() -> HeaderTools:
    return HeaderTools()
