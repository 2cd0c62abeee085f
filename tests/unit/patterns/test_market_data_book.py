"""OrderBook: snapshot + sequenced updates, gaps, resyncs, stale messages (no Redis)."""

from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal
from typing import Literal

import pytest

from redis_fintech_sdk.errors import ConfigurationError
from redis_fintech_sdk.patterns import (
    BookAction,
    DepthSnapshot,
    DepthUpdate,
    LevelChange,
    OrderBook,
    PriceLevel,
)

T0 = dt.datetime(2026, 3, 2, 14, 30, tzinfo=dt.timezone.utc)


def lv(price: str, size: str) -> PriceLevel:
    return PriceLevel(Decimal(price), Decimal(size))


def snap(seq: int, bids: list[tuple[str, str]], asks: list[tuple[str, str]]) -> DepthSnapshot:
    return DepthSnapshot(
        symbol="AAPL",
        sequence=seq,
        bids=tuple(lv(p, s) for p, s in bids),
        asks=tuple(lv(p, s) for p, s in asks),
        exchange_time=T0,
    )


Change = tuple[Literal["bid", "ask"], str, str]


def upd(seq: int, *changes: Change, prev: int | None = None) -> DepthUpdate:
    return DepthUpdate(
        symbol="AAPL",
        sequence=seq,
        prev_sequence=seq - 1 if prev is None else prev,
        changes=tuple(LevelChange(side, Decimal(p), Decimal(s)) for side, p, s in changes),
        exchange_time=T0 + dt.timedelta(milliseconds=seq),
    )


BASE = snap(10, [("100.00", "5"), ("99.50", "7")], [("100.50", "3"), ("101.00", "4")])


def levels(book: OrderBook) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    bids, asks = book.top(100)
    return [(str(x.price), str(x.size)) for x in bids], [(str(x.price), str(x.size)) for x in asks]


def test_in_order_updates_apply_and_best_levels_follow() -> None:
    book = OrderBook("AAPL")
    assert book.load(BASE) is BookAction.APPLIED
    assert book.synced
    assert book.sequence == 10
    assert book.apply(upd(11, ("bid", "100.25", "2"))) is BookAction.APPLIED  # new best bid
    assert book.apply(upd(12, ("ask", "100.50", "1"), ("ask", "100.40", "9"))) is BookAction.APPLIED
    assert book.best_bid() == lv("100.25", "2")
    assert book.best_ask() == lv("100.40", "9")
    assert book.spread() == Decimal("0.15")
    assert levels(book) == (
        [("100.25", "2"), ("100.00", "5"), ("99.50", "7")],
        [("100.40", "9"), ("100.50", "1"), ("101.00", "4")],
    )
    assert book.top(1) == ([lv("100.25", "2")], [lv("100.40", "9")])
    assert book.bids(0) == []
    stats = book.statistics()
    assert (stats.sequence, stats.applied, stats.gaps, stats.resyncs, stats.stale) == (
        12,
        2,
        0,
        0,
        0,
    )
    # The book round-trips into a snapshot a late joiner can start from.
    again = OrderBook("AAPL")
    again.load(book.snapshot())
    assert levels(again) == levels(book)
    assert again.sequence == 12


def test_zero_size_removes_a_level_and_removing_a_missing_level_is_harmless() -> None:
    book = OrderBook("AAPL")
    book.load(BASE)
    book.apply(upd(11, ("bid", "100.00", "0"), ("ask", "100.75", "0")))
    assert book.best_bid() == lv("99.50", "7")
    assert levels(book)[1] == [("100.50", "3"), ("101.00", "4")]
    book.apply(upd(12, ("bid", "99.50", "0")))
    assert book.best_bid() is None
    assert book.spread() is None
    assert book.statistics().bid_levels == 0
    # A price written with another exponent is the same level (Decimal equality).
    book.apply(upd(13, ("ask", "100.5", "0")))
    assert levels(book)[1] == [("101.00", "4")]


def test_zero_size_levels_in_a_snapshot_are_not_kept() -> None:
    book = OrderBook("AAPL")
    book.load(snap(1, [("10", "0"), ("9", "1")], []))
    assert book.bids() == [lv("9", "1")]


def test_gap_stops_the_book_and_a_newer_snapshot_resyncs_it() -> None:
    book = OrderBook("AAPL")
    book.load(BASE)
    book.apply(upd(11, ("bid", "100.10", "1")))
    # 12 is lost; 13 and 14 arrive.
    assert book.apply(upd(13, ("ask", "100.45", "2"))) is BookAction.GAP
    assert book.needs_snapshot
    assert not book.synced
    assert book.apply(upd(14, ("ask", "100.45", "0"), ("bid", "100.20", "3"))) is BookAction.PENDING
    assert book.sequence == 11  # nothing applied past the hole
    # The publisher's stored book as of 13 (it includes the lost 12).
    stored = snap(
        13,
        [("100.10", "1"), ("100.00", "5"), ("99.50", "7")],
        [("100.45", "2"), ("100.50", "3"), ("101.00", "4")],
    )
    assert book.load(stored) is BookAction.APPLIED
    assert book.statistics().synced  # (not book.synced: mypy narrowed it above)
    assert book.sequence == 14
    assert book.best_bid() == lv("100.20", "3")
    assert book.best_ask() == lv("100.50", "3")
    stats = book.statistics()
    assert (stats.gaps, stats.resyncs, stats.snapshots, stats.pending) == (1, 1, 2, 0)
    assert stats.stale == 1


def test_stale_updates_and_snapshots_are_ignored() -> None:
    book = OrderBook("AAPL")
    book.load(BASE)
    book.apply(upd(11, ("bid", "100.10", "1")))
    before = levels(book)
    assert book.apply(upd(11, ("bid", "1", "1"))) is BookAction.STALE  # a duplicate
    assert book.apply(upd(9, ("bid", "2", "1"))) is BookAction.STALE  # older than the snapshot
    assert book.load(snap(11, [("1", "1")], [])) is BookAction.STALE
    assert book.load(snap(5, [("1", "1")], [])) is BookAction.STALE
    assert levels(book) == before
    stats = book.statistics()
    assert (stats.stale, stats.gaps, stats.sequence, stats.synced) == (4, 0, 11, True)


def test_updates_before_the_first_snapshot_are_held_then_applied_in_sequence_order() -> None:
    # A late joiner subscribes first, then reads the stored snapshot: updates arriving in
    # between are held; those the snapshot already includes are dropped.
    book = OrderBook("AAPL")
    assert book.apply(upd(12, ("bid", "100.30", "1"))) is BookAction.PENDING
    assert book.apply(upd(10, ("bid", "1", "1"))) is BookAction.PENDING
    assert book.apply(upd(11, ("bid", "100.20", "1"))) is BookAction.PENDING
    assert book.statistics().pending == 3
    assert book.load(BASE) is BookAction.APPLIED  # BASE is at 10
    assert book.sequence == 12
    assert book.best_bid() == lv("100.30", "1")
    stats = book.statistics()
    assert (stats.applied, stats.stale, stats.gaps, stats.resyncs) == (2, 1, 0, 0)


def test_a_snapshot_older_than_the_held_updates_leaves_the_book_waiting() -> None:
    book = OrderBook("AAPL")
    book.load(BASE)
    assert book.apply(upd(15, ("bid", "100.30", "1"), prev=14)) is BookAction.GAP
    # The store only had the book as of 12 (a publisher storing every few updates).
    assert book.load(snap(12, [("100.00", "1")], [])) is BookAction.GAP
    assert book.needs_snapshot
    assert book.sequence == 12
    assert book.statistics().gaps == 1  # the same hole, counted once
    assert book.load(snap(14, [("100.00", "2")], [])) is BookAction.APPLIED
    assert book.sequence == 15
    assert book.best_bid() == lv("100.30", "1")
    assert book.statistics().resyncs == 1


def test_pending_is_bounded_and_the_oldest_go_first() -> None:
    book = OrderBook("AAPL", max_pending=2)
    for seq in (11, 12, 13):
        book.apply(upd(seq, ("bid", "1", "1")))
    stats = book.statistics()
    assert (stats.pending, stats.dropped) == (2, 1)
    assert book.load(BASE) is BookAction.GAP  # 11 was dropped: 12 does not follow 10
    assert OrderBook("AAPL", max_pending=0).apply(upd(11)) is BookAction.PENDING
    with pytest.raises(ConfigurationError):
        OrderBook("AAPL", max_pending=-1)


def test_another_symbol_is_refused_and_an_unsynced_book_has_no_snapshot() -> None:
    book = OrderBook("AAPL")
    other = DepthSnapshot(symbol="MSFT", sequence=1, exchange_time=T0)
    with pytest.raises(ConfigurationError, match="symbol"):
        book.load(other)
    with pytest.raises(ConfigurationError, match="not in sync"):
        book.snapshot()
    book.load(BASE)
    book.reset()
    assert book.sequence is None
    assert book.best_bid() is None
    assert not book.synced


def test_random_feed_with_losses_ends_equal_to_the_publishers_book() -> None:
    """A subscriber losing random updates and resyncing from the publisher's current
    snapshot always ends with exactly the publisher's book."""
    rng = random.Random(20260302)
    publisher = OrderBook("AAPL")
    publisher.load(BASE)
    subscriber = OrderBook("AAPL")
    subscriber.load(BASE)
    for seq in range(11, 600):
        side: Literal["bid", "ask"] = "bid" if rng.random() < 0.5 else "ask"
        base = 100 if side == "bid" else 101
        price = f"{base + rng.randint(-20, 20) / 100:.2f}"
        size = str(rng.choice([0, 0, 1, 2, 5, 10]))
        update = upd(seq, (side, price, size))
        assert publisher.apply(update) is BookAction.APPLIED
        if seq < 599 and rng.random() < 0.05:
            continue  # lost on the way (the last one arrives, so the loss is seen)
        if subscriber.apply(update) is BookAction.GAP:
            assert subscriber.load(publisher.snapshot()) is BookAction.APPLIED
    assert subscriber.snapshot() == publisher.snapshot()
    stats = subscriber.statistics()
    assert stats.gaps == stats.resyncs > 0
