"""Request/reply over Pub/Sub: a pricing service answers quote requests.

    python examples/request_reply.py

A responder serves ``rpc.pricing`` (encrypted, like every frame of this codec); a requester
asks for quotes concurrently, gets each answer matched by correlation id, learns at once when
nobody serves a channel, and gets a typed error (class name only) when the service fails.
"""

from __future__ import annotations

from decimal import Decimal

import anyio

from redis_fintech_sdk.codec import Codec, Keyring, Message, Money, message
from redis_fintech_sdk.connection import AsyncClient
from redis_fintech_sdk.errors import NoRespondersError, RemoteHandlerError
from redis_fintech_sdk.pubsub import AsyncRequester, AsyncResponder, Delivery
from redis_fintech_sdk.testing import RedisServer

BOOK = {"AAPL": Decimal("189.12"), "MSFT": Decimal("415.50"), "NVDA": Decimal("121.05")}


@message("example.quote_request", version=1)
class QuoteRequest(Message):
    """Ask for a quote."""

    symbol: str


@message("example.quote", version=1)
class Quote(Message):
    """A firm quote."""

    symbol: str
    bid: Money


def price(delivery: Delivery) -> Quote:
    symbol = delivery.payload.symbol
    if symbol not in BOOK:
        raise LookupError("unknown symbol")  # the requester sees only 'LookupError'
    return Quote(symbol=symbol, bid=Money(amount=BOOK[symbol], currency="USD"))


async def main(url: str) -> dict[str, str]:
    ring = Keyring.generate()  # shared by the service and its clients
    quotes: dict[str, str] = {}
    async with (
        AsyncClient.from_url(url) as client,
        AsyncResponder(client, ["rpc.pricing"], price, codec=Codec(keyring=ring)),
        AsyncRequester(client, codec=Codec(keyring=ring), timeout=2.0) as rpc,
    ):

        async def ask(symbol: str) -> None:
            reply = await rpc.request(QuoteRequest(symbol=symbol), "rpc.pricing")
            quotes[symbol] = str(reply.payload.bid.amount)

        async with anyio.create_task_group() as tg:
            for symbol in BOOK:
                tg.start_soon(ask, symbol)
        print("quotes:", quotes)
        try:
            await rpc.request(QuoteRequest(symbol="XXXX"), "rpc.pricing")
        except RemoteHandlerError as exc:
            print("service error:", exc.error_type)
        try:
            await rpc.request(QuoteRequest(symbol="AAPL"), "rpc.fx")
        except NoRespondersError as exc:
            print("no responder on", exc.channel)
        print("requester:", rpc.statistics())
    assert quotes == {s: str(p) for s, p in BOOK.items()}
    return quotes


if __name__ == "__main__":
    with RedisServer() as server:
        anyio.run(main, server.url)
