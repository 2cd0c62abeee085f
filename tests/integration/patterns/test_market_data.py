"""Market data on a real redis-server: depth with losses and resyncs, late joiners, market
status events, conflated ticks and portfolio updates."""

from __future__ import annotations

import datetime as dt
import logging
from decimal import Decimal
from typing import Any

import anyio
import pytest

from redis_fintech_sdk.channels import market_events, portfolio_updates
from redis_fintech_sdk.codec import Codec, Keyring, Money
from redis_fintech_sdk.connection import AsyncClient
from redis_fintech_sdk.patterns import (
    BookAction,
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

pytestmark = pytest.mark.anyio

T0 = dt.datetime(2026, 3, 2, 14, 30, tzinfo=dt.timezone.utc)


class LossyPublisher(AsyncPublisher):
    """Loses chosen depth updates "on the wire": the feed applied and stored them, but no
    subscriber receives them (what a Pub/Sub disconnect or a dropped message looks like)."""

    def __init__(self, client: AsyncClient, *, lose: set[int], **kw: Any) -> None:
        super().__init__(client, **kw)
        self.lose = lose
        self.lost: list[int] = []

    async def publish(self, message: Any, channel: Any = None, **options: Any) -> int:
        if isinstance(message, DepthUpdate) and message.sequence in self.lose:
            self.lost.append(message.sequence)
            return 0
        return await super().publish(message, channel, **options)


def snapshot(symbol: str, seq: int) -> DepthSnapshot:
    return DepthSnapshot(
        symbol=symbol,
        sequence=seq,
        bids=(PriceLevel(Decimal("100.00"), Decimal(5)), PriceLevel(Decimal("99.90"), Decimal(8))),
        asks=(PriceLevel(Decimal("100.10"), Decimal(4)), PriceLevel(Decimal("100.20"), Decimal(6))),
        exchange_time=T0,
    )


def update(symbol: str, seq: int) -> DepthUpdate:
    """A deterministic change per sequence: levels appear, change and disappear (size 0)."""
    side: Any = "bid" if seq % 2 else "ask"
    offset = Decimal(seq % 7) / 100
    price = Decimal("99.95") - offset if side == "bid" else Decimal("100.15") + offset
    size = Decimal(0) if seq % 5 == 0 else Decimal(seq)
    return DepthUpdate(
        symbol=symbol,
        sequence=seq,
        prev_sequence=seq - 1,
        changes=(LevelChange(side, price, size),),
        exchange_time=T0 + dt.timedelta(microseconds=seq),
    )


async def test_dropped_updates_are_detected_and_the_book_resyncs_to_the_publishers(
    aclient: AsyncClient, aclient2: AsyncClient, prefix: str
) -> None:
    symbol = "AAPL"
    lossy = LossyPublisher(aclient, lose={15, 22})
    async with (
        lossy as pub,
        OrderBookSubscriber(aclient2, tenant=prefix, key_prefix=prefix) as books,
    ):
        feed = MarketDataPublisher(aclient, pub, tenant=prefix, key_prefix=prefix)
        await feed.publish_snapshot(snapshot(symbol, 10))
        await books.follow(symbol)
        await books.wait_synced(symbol, sequence=10, timeout=5)
        for seq in range(11, 31):
            assert await feed.publish_update(update(symbol, seq)) is BookAction.APPLIED
        book = await books.wait_synced(symbol, sequence=30, timeout=5)
        published = feed.book(symbol)
        assert published is not None
        assert lossy.lost == [15, 22]
        assert book.snapshot() == published.snapshot()
        assert book.top(3) == published.top(3)
        stats = book.statistics()
        assert stats.gaps >= 1  # 22 may already be inside the snapshot the first resync read
        assert stats.resyncs == stats.gaps
        assert stats.synced
        assert books.resync_errors(symbol) == 0
        # The publisher refuses what does not follow its own book: nothing is sent.
        assert await feed.publish_update(update(symbol, 30)) is BookAction.STALE
        assert await feed.publish_update(update(symbol, 33)) is BookAction.GAP
        assert await feed.publish_update(update(symbol, 34)) is BookAction.PENDING
        assert pub.statistics().published == 1 + 18  # the snapshot and updates not lost


async def test_a_late_joiner_starts_from_the_stored_snapshot(
    aclient: AsyncClient, aclient2: AsyncClient, prefix: str
) -> None:
    keyring = Keyring.generate(key_id=7)  # stored frames are sealed like any message
    symbol = "MSFT"
    async with AsyncPublisher(aclient, codec=Codec(keyring=keyring)) as pub:
        feed = MarketDataPublisher(
            aclient, pub, venue="XNAS", tenant=prefix, key_prefix=prefix, snapshot_ttl=60
        )
        await feed.publish_snapshot(snapshot(symbol, 100))
        for seq in range(101, 121):  # nobody listens yet
            await feed.publish_update(update(symbol, seq))
        key = feed.store.snapshot_key(symbol)
        assert key == f"{prefix}:snapshot:tenant:{prefix}:market.depth.XNAS.{symbol}"
        assert 0 < await aclient.redis.pttl(key) <= 60_000
        stored = await aclient.redis.get(key)
        assert isinstance(stored, bytes)
        assert b"100.00" in Codec().encode(snapshot(symbol, 1), channel=key)  # in clear ...
        assert b"100.00" not in stored  # ... but the stored book is sealed like any message

        async with OrderBookSubscriber(
            aclient2, codec=Codec(keyring=keyring), venue="XNAS", tenant=prefix, key_prefix=prefix
        ) as books:
            await books.follow(symbol)
            book = await books.wait_synced(symbol, timeout=5)
            published = feed.book(symbol)
            assert published is not None
            assert book.sequence == 120
            assert book.snapshot() == published.snapshot()
            stats = book.statistics()
            assert (stats.snapshots, stats.applied, stats.gaps) == (1, 0, 0)  # no replay
            # From there it follows the live feed.
            await feed.publish_update(update(symbol, 121))
            await books.wait_synced(symbol, sequence=121, timeout=5)
            assert book.snapshot() == published.snapshot()
            assert book.statistics().applied == 1
            assert book.best_bid() == published.best_bid()


async def test_an_unreadable_stored_snapshot_is_counted_and_a_published_one_recovers(
    aclient: AsyncClient, aclient2: AsyncClient, prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    symbol = "TSLA"
    async with (
        AsyncPublisher(aclient) as pub,
        OrderBookSubscriber(aclient2, tenant=prefix, key_prefix=prefix) as books,
    ):
        feed = MarketDataPublisher(aclient, pub, tenant=prefix, key_prefix=prefix)
        await aclient.redis.set(feed.store.snapshot_key(symbol), b"not a frame")
        with caplog.at_level(logging.WARNING, logger="redis_fintech_sdk.patterns"):
            await books.follow(symbol)  # never raises: the feed may fix it
        assert books.resync_errors(symbol) == 1
        assert "snapshot fetch failed (UnsupportedVersionError)" in caplog.text
        assert not books.book(symbol).synced
        with pytest.raises(TimeoutError):
            await books.wait_synced(symbol, timeout=0.1)
        # The feed (re)starts: its snapshot on the channel brings the book in sync.
        await feed.publish_snapshot(snapshot(symbol, 1))
        book = await books.wait_synced(symbol, timeout=5)
        assert book.sequence == 1
        assert book.best_ask() == PriceLevel(Decimal("100.10"), Decimal(4))
        await books.unfollow(symbol)
        with pytest.raises(KeyError):
            books.book(symbol)


async def test_market_halt_is_broadcast_and_stored(
    aclient: AsyncClient, aclient2: AsyncClient, prefix: str
) -> None:
    async with AsyncPublisher(aclient) as pub, AsyncSubscriber(aclient2) as sub:
        feed = MarketDataPublisher(aclient, pub, tenant=prefix, key_prefix=prefix)
        await sub.psubscribe(f"tenant:{prefix}:market.events.*")
        halt = MarketStatusEvent(status=MarketStatus.HALT, symbol="GME", reason="LUDP")
        opened = MarketStatusEvent(status=MarketStatus.OPEN, venue="XNYS")
        assert await feed.publish_status(halt) == 1
        assert await feed.publish_status(opened) == 1
        with anyio.fail_after(5):
            first, second = await sub.get(), await sub.get()
    assert first.channel == str(market_events(symbol="GME", tenant=prefix))
    assert first.payload == halt
    assert first.payload.status is MarketStatus.HALT
    assert not first.payload.status.trading
    assert first.header is not None
    assert first.header.headers["status"] == "halt"
    assert second.channel == f"tenant:{prefix}:market.events.XNYS"
    # A late joiner reads the latest status of each scope.
    assert await feed.store.status("GME") == halt
    assert await feed.store.status(venue="XNYS") == opened
    assert await feed.store.status("AMC") is None
    assert await aclient.redis.pttl(feed.store.status_key("GME")) > 0


async def test_conflating_tick_subscriber_delivers_the_latest_price_per_symbol(
    aclient: AsyncClient, aclient2: AsyncClient, prefix: str
) -> None:
    rounds = 40
    async with (
        AsyncPublisher(aclient) as pub,
        TickSubscriber(aclient2, tenant=prefix) as ticks,
    ):
        feed = MarketDataPublisher(aclient, pub, tenant=prefix, key_prefix=prefix)
        await ticks.subscribe("AAPL", "MSFT")
        for i in range(rounds):  # the consumer is busy: nothing is taken meanwhile
            await feed.publish_ticks(
                PriceTick(
                    symbol=symbol,
                    bid=base + Decimal(i) / 100,
                    ask=base + Decimal(i + 1) / 100,
                    bid_size=Decimal(100 + i),
                    ask_size=Decimal(200),
                    exchange_time=T0 + dt.timedelta(milliseconds=i),
                )
                for symbol, base in (("AAPL", Decimal(189)), ("MSFT", Decimal(410)))
            )
        with anyio.fail_after(5):
            while ticks.statistics().received < 2 * rounds:  # noqa: ASYNC110
                await anyio.sleep(0.01)
        latest = ticks.latest()
        stats = ticks.statistics()
    assert set(latest) == {"AAPL", "MSFT"}
    assert latest["AAPL"].bid == Decimal("189.39")
    assert latest["AAPL"].ask == Decimal("189.40")
    assert latest["MSFT"].bid == Decimal("410.39")
    assert latest["MSFT"].bid_size == Decimal(139)
    assert isinstance(latest["MSFT"].bid, Decimal)
    assert stats.buffer.conflated == 2 * rounds - 2
    assert stats.delivered == 2  # replaced ticks were never decoded or delivered


async def test_tick_subscriber_all_symbols_and_iteration(
    aclient: AsyncClient, aclient2: AsyncClient, prefix: str
) -> None:
    async with AsyncPublisher(aclient) as pub, TickSubscriber(aclient2, tenant=prefix) as ticks:
        feed = MarketDataPublisher(aclient, pub, tenant=prefix, key_prefix=prefix)
        await ticks.subscribe_all()
        tick = PriceTick(symbol="NVDA", bid=Decimal("901.5"), ask=None, exchange_time=T0)
        assert await feed.publish_tick(tick) == 1
        received = []
        with anyio.fail_after(5):
            async for got in ticks:  # the iteration protocol
                received.append(got)
                break
        with pytest.raises(TimeoutError):
            await ticks.get(timeout=0.05)
    assert received == [tick]


async def test_portfolio_update_reaches_its_channel_and_the_account_stays_out_of_logs(
    aclient: AsyncClient,
    aclient2: AsyncClient,
    prefix: str,
    caplog: pytest.LogCaptureFixture,
    log_secrets: set[str],
) -> None:
    account = f"ACC-{prefix}-SECRET"
    log_secrets.add(account)
    update = PortfolioUpdate(
        portfolio_id="P-9",
        account_id=account,
        realized_pnl=Money(amount=Decimal("1250.10"), currency="USD"),
        unrealized_pnl=Money(amount=Decimal("-87.50"), currency="USD"),
        version=4,
    )
    with caplog.at_level(logging.DEBUG, logger="redis_fintech_sdk"):
        async with AsyncPublisher(aclient) as pub, AsyncSubscriber(aclient2) as sub:
            feed = MarketDataPublisher(aclient, pub, tenant=prefix, key_prefix=prefix)
            await sub.subscribe(portfolio_updates("P-9", tenant=prefix))
            assert await feed.publish_portfolio(update) == 1
            with anyio.fail_after(5):
                got = await sub.get()
    assert got.payload == update
    assert got.payload.account_id == account  # intact for the consumer
    assert got.payload.unrealized_pnl.amount == Decimal("-87.50")
    assert got.header is not None
    assert got.header.headers["version"] == "4"
    assert account not in caplog.text
    assert account not in repr(got)
