"""Encrypt, peek at and decode a typed message — no Redis needed.

python examples/encrypted_message.py
"""

from __future__ import annotations

from decimal import Decimal

from redis_fintech_sdk.codec import (
    Codec,
    Keyring,
    Message,
    MessageRegistry,
    Money,
    SensitiveStr,
    Timestamp,
    message,
)
from redis_fintech_sdk.errors import DecryptionError

registry = MessageRegistry()


@message("payment.settled", version=1, classification="confidential", registry=registry)
class PaymentSettled(Message):
    payment_id: str
    amount: Money
    settled_at: Timestamp
    iban: SensitiveStr


def main() -> int:
    codec = Codec(keyring=Keyring.generate(key_id=1), registry=registry, producer_id="example")
    payment = PaymentSettled(
        payment_id="P-1001",
        amount=Money(amount=Decimal("1250.00"), currency="EUR"),
        settled_at=Timestamp.now(),
        iban="DE89370400440532013000",
    )
    frame = codec.encode(payment, channel="payments:eu", correlation_id="order-42")
    print(f"frame: {len(frame)} bytes, starts {frame[:6].hex()}")

    head = codec.peek_header(frame)  # routing without decrypting
    print(
        f"peek: type={head.type} seq={head.sequence} key_id={head.key_id} "
        f"encrypted={head.encrypted}"
    )

    env = codec.decode(frame, channel="payments:eu")
    assert env.payload == payment
    print(f"decoded: {env!r}")  # the IBAN shows as ***

    try:
        codec.decode(frame, channel="payments:us")
    except DecryptionError as exc:
        print(f"replayed on another channel -> {type(exc).__name__}: {exc}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
