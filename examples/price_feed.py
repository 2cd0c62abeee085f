"""A price feed with pattern subscribers, on an embedded redis-server.

    python examples/price_feed.py

One publisher sends ticks for a few symbols; a "dashboard" subscriber conflates them (one
pending tick per symbol, always the latest) while a "risk" handler sees every tick of the
XNAS venue.
"""

from __future__ import annotations

import random

import anyio

from redis_fintech_sdk.codec import Message, message
from redis_fintech_sdk.connection import AsyncClient
from redis_fintech_sdk.pubsub import (
    AsyncPublisher,
    AsyncSubscriber,
    Delivery,
    HeaderFilter,
    SubscriberConfig,
)
from redis_fintech_sdk.testing import RedisServer

SYMBOLS = ["AAPL", "MSFT", "NVDA", "AMZN"]


@message("example.price", version=1)
class Price(Message):
    """One price tick."""

    symbol: str
    price: str


async def main(url: str, ticks: int = 200) -> dict[str, str]:
    risk_seen = 0
    latest: dict[str, str] = {}

    async def risk(delivery: Delivery) -> None:
        nonlocal risk_seen
        risk_seen += 1

    async with AsyncClient.from_url(url) as client:
        dashboard = AsyncSubscriber(
            client, config=SubscriberConfig(overflow="conflate", buffer_capacity=len(SYMBOLS))
        )
        risk_sub = AsyncSubscriber(
            client, config=SubscriberConfig(filter=HeaderFilter(headers={"venue": "XNAS"}))
        )
        risk_sub.add_handler(risk, channel="market.price.*", types=["example.price"])
        async with dashboard, risk_sub, AsyncPublisher(client) as pub:
            await dashboard.psubscribe("market.price.*")
            await risk_sub.psubscribe("market.price.*")
            rng = random.Random(7)
            for i in range(ticks):
                sym = SYMBOLS[i % len(SYMBOLS)]
                px = f"{100 + rng.random() * 10:.2f}"
                await pub.publish(
                    Price(symbol=sym, price=px), f"market.price.{sym}", headers={"venue": "XNAS"}
                )
            await anyio.sleep(0.2)
            while True:  # the slow dashboard wakes up: one (latest) tick per symbol
                try:
                    d = dashboard.get_nowait()
                except anyio.WouldBlock:
                    break
                latest[d.payload.symbol] = d.payload.price
            print("dashboard:", latest, dashboard.statistics().buffer)
            print("risk saw", risk_seen, "ticks")
    return latest


if __name__ == "__main__":
    with RedisServer() as server:
        anyio.run(main, server.url)
