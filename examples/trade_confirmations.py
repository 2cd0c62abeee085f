"""Trade confirmations over a consumer group, with a dead-letter stream.

Runs against a private redis-server (the embedded launcher) and prints what happened::

    python examples/trade_confirmations.py
"""

from __future__ import annotations

from decimal import Decimal

import anyio

from redis_fintech_sdk.codec import Codec, Message, message
from redis_fintech_sdk.connection import AsyncClient
from redis_fintech_sdk.settings import Timeouts
from redis_fintech_sdk.streams import (
    AsyncDeadLetterQueue,
    AsyncStreamAdmin,
    AsyncStreamProducer,
    StreamConsumer,
    StreamMessage,
)
from redis_fintech_sdk.testing import RedisServer


@message("example.trade_confirmation")
class TradeConfirmation(Message):
    trade_id: str
    account: str
    amount: Decimal


async def main(url: str) -> None:
    codec = Codec()
    async with AsyncClient.from_url(url, timeouts=Timeouts(max_block=5.0)) as client:
        producer = AsyncStreamProducer(client, "trades", codec=codec)
        await producer.add_many(
            TradeConfirmation(trade_id=f"T{i}", account="ACC-1", amount=Decimal("100.25"))
            for i in range(10)
        )
        await producer.add(b"not a frame")  # a broken producer: dead-lettered at once
        settled: list[str] = []

        async def settle(msg: StreamMessage) -> None:
            trade = msg.envelope.payload
            if trade.trade_id == "T7":
                raise ValueError("counterparty unknown")  # dead-lettered after 3 attempts
            settled.append(trade.trade_id)

        consumer = StreamConsumer(
            client,
            "trades",
            settle,
            group="settlement",
            consumer="worker-0",
            codec=codec,
            max_attempts=3,
            visibility_timeout=1.0,
            retry_delay=0.1,
            claim_interval=0.2,
        )
        async with consumer:
            with anyio.fail_after(30):
                while consumer.statistics().dead_lettered < 2:  # noqa: ASYNC110
                    await anyio.sleep(0.05)
        print("settled:", sorted(settled))
        print("consumer:", consumer.statistics())
        for letter in await AsyncDeadLetterQueue(client, "trades").entries():
            print("dead letter:", letter)
        print(await AsyncStreamAdmin(client).group_health("trades", "settlement"))


if __name__ == "__main__":
    with RedisServer() as server:
        anyio.run(main, server.url)
