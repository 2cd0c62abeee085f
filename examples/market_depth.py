"""Market depth, status events and conflated ticks, on an embedded redis-server.

    python examples/market_depth.py

A feed handler publishes an order book (a snapshot, then sequenced updates) for AAPL on
XNAS. A trading desk follows the book; one update never reaches it (it stands in for the
messages a subscriber misses while it reconnects), so the desk's book sees the gap, reloads
the snapshot the feed keeps in Redis and ends equal to the feed's own book. A late joiner
starts from that stored snapshot. Then a halt goes out on the market-events channel, a slow
dashboard reads conflated ticks (the latest price per symbol, not the backlog), and a
portfolio update shows the account id redacted.
"""

from __future__ import annotations

import datetime as dt
import random
import sys
from decimal import Decimal
from typing import Any

import anyio

from redis_fintech_sdk.codec import Money
from redis_fintech_sdk.connection import AsyncClient
from redis_fintech_sdk.patterns import (
    DepthSnapshot,
    DepthUpdate,
    LevelChange,
    MarketDataPublisher,
    MarketStatus,
    MarketStatusEvent,
    OrderBookSubscriber,
    PortfolioUpdate,
    PriceLevel,
    PriceTick,
    TickSubscriber,
)
from redis_fintech_sdk.pubsub import AsyncPublisher, AsyncSubscriber
from redis_fintech_sdk.testing import RedisServer

VENUE = "XNAS"
LOST = 107  # the update the desk never receives


class LossyPublisher(AsyncPublisher):
    """Publishes everything except depth update ``LOST``, to show gap detection."""

    async def publish(self, message: Any, channel: Any = None, **options: Any) -> int:
        if isinstance(message, DepthUpdate) and message.sequence == LOST:
            return 0
        return await super().publish(message, channel, **options)


def now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def opening_book() -> DepthSnapshot:
    cents = [Decimal(n) / 100 for n in range(5)]
    return DepthSnapshot(
        symbol="AAPL",
        sequence=100,
        bids=tuple(PriceLevel(Decimal("189.10") - c, Decimal(300)) for c in cents),
        asks=tuple(PriceLevel(Decimal("189.12") + c, Decimal(200)) for c in cents),
        venue=VENUE,
        exchange_time=now(),
    )


def book_updates(rng: random.Random) -> list[DepthUpdate]:
    updates = []
    for seq in range(101, 121):
        side: Any = rng.choice(["bid", "ask"])
        cents = Decimal(rng.randint(0, 6)) / 100
        price = Decimal("189.10") - cents if side == "bid" else Decimal("189.12") + cents
        size = Decimal(rng.choice([0, 100, 250, 400]))  # 0 removes the level
        change = LevelChange(side, price, size)
        updates.append(
            DepthUpdate(
                symbol="AAPL",
                sequence=seq,
                prev_sequence=seq - 1,
                changes=(change,),
                venue=VENUE,
                exchange_time=now(),
            )
        )
    return updates


def levels(book_side: list[PriceLevel]) -> str:
    return ", ".join(f"{level.size}@{level.price}" for level in book_side)


async def run(url: str) -> dict[str, Any]:
    result: dict[str, Any] = {}
    async with (
        AsyncClient.from_url(url) as client,
        AsyncClient.from_url(url) as desk_client,
        LossyPublisher(client) as publisher,
        OrderBookSubscriber(desk_client, venue=VENUE) as desk,
    ):
        feed = MarketDataPublisher(client, publisher, venue=VENUE)

        # 1. Depth: snapshot + updates, one of them lost on the way to the desk.
        await feed.publish_snapshot(opening_book())
        await desk.follow("AAPL")
        await desk.wait_synced("AAPL", sequence=100, timeout=5)
        for update in book_updates(random.Random(7)):
            await feed.publish_update(update)
        book = await desk.wait_synced("AAPL", sequence=120, timeout=5)
        fed = feed.book("AAPL")
        assert fed is not None
        stats = book.statistics()
        print(f"desk book: seq={book.sequence} gaps={stats.gaps} resyncs={stats.resyncs}")
        print(f"desk book equals the feed's book: {book.snapshot() == fed.snapshot()}")
        bids, asks = book.top(3)
        print(f"  top 3 bids: {levels(bids)}")
        print(f"  top 3 asks: {levels(asks)}")
        print(f"  spread: {book.spread()}")
        result["desk"] = stats

        # 2. A late joiner starts from the snapshot the feed keeps in Redis.
        async with OrderBookSubscriber(client, venue=VENUE) as late:
            await late.follow("AAPL")
            joined = await late.wait_synced("AAPL", timeout=5)
            print(
                f"late joiner: seq={joined.sequence} from the stored snapshot "
                f"(updates replayed: {joined.statistics().applied}), "
                f"equal: {joined.snapshot() == fed.snapshot()}"
            )

        # 3. A halt on the market-events channel, and kept for whoever asks later.
        async with AsyncSubscriber(desk_client) as events:
            await events.psubscribe("market.events.*")
            await feed.publish_status(
                MarketStatusEvent(status=MarketStatus.HALT, symbol="AAPL", reason="LUDP")
            )
            with anyio.fail_after(5):
                got = await events.get()
            event: MarketStatusEvent = got.payload
            print(f"market event on {got.channel}: {event.status.value} ({event.reason})")
            stored = await feed.store.status("AAPL")
            print(f"stored status of AAPL: {stored.status.value if stored else None}")

        # 4. A slow dashboard: conflated ticks, the latest price per symbol.
        async with TickSubscriber(desk_client, venue=VENUE) as dashboard:
            await dashboard.subscribe_all()
            for i in range(50):
                await feed.publish_ticks(
                    PriceTick(
                        symbol=symbol,
                        bid=base + Decimal(i) / 100,
                        ask=base + Decimal(i + 1) / 100,
                        bid_size=Decimal(100),
                        ask_size=Decimal(100),
                        venue=VENUE,
                        exchange_time=now(),
                    )
                    for symbol, base in (("AAPL", Decimal("189.00")), ("MSFT", Decimal("410.00")))
                )
            with anyio.fail_after(5):
                while dashboard.statistics().received < 100:  # noqa: ASYNC110
                    await anyio.sleep(0.01)
            latest = dashboard.latest()
            shown = ", ".join(f"{s} {t.bid}/{t.ask}" for s, t in sorted(latest.items()))
            replaced = dashboard.statistics().buffer.conflated
            print(f"dashboard (conflated): {shown}; {replaced} older ticks replaced")

        # 5. Portfolio P&L: Decimal money; the account id never shows in repr or logs.
        portfolio = PortfolioUpdate(
            portfolio_id="P-9",
            account_id="ACC-4471",
            realized_pnl=Money(amount=Decimal("1250.10"), currency="USD"),
            unrealized_pnl=Money(amount=Decimal("-87.50"), currency="USD"),
            version=1,
        )
        await feed.publish_portfolio(portfolio)
        print(f"portfolio update: {portfolio!r}")
    return result


def main(url: str | None = None) -> int:
    if url is None:
        with RedisServer() as server:
            anyio.run(run, server.url)
    else:
        anyio.run(run, url)
    return 0


if __name__ == "__main__":
    sys.exit(main())
