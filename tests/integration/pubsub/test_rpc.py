"""Request/reply over Pub/Sub (AsyncRequester / AsyncResponder) against a real redis-server."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator

import anyio
import pytest

from redis_fintech_sdk.codec import Codec, Keyring, Message, MessageRegistry, message
from redis_fintech_sdk.connection import AsyncClient
from redis_fintech_sdk.errors import (
    ConfigurationError,
    NoRespondersError,
    RemoteHandlerError,
    RequestTimeoutError,
)
from redis_fintech_sdk.pubsub import (
    AsyncPublisher,
    AsyncRequester,
    AsyncResponder,
    AsyncSubscriber,
    Delivery,
    SubscriberConfig,
)
from redis_fintech_sdk.testing import RedisServer

pytestmark = pytest.mark.anyio

REGISTRY = MessageRegistry()


@message("test.rpc.quote_request", registry=REGISTRY)
class QuoteRequest(Message):
    symbol: str
    n: int = 0
    delay: float = 0.0
    fail: bool = False


@message("test.rpc.quote", registry=REGISTRY)
class Quote(Message):
    symbol: str
    n: int
    bid: str


RING = Keyring.generate(7)


def make_codec(ring: Keyring = RING) -> Codec:
    return Codec(registry=REGISTRY, keyring=ring)


@pytest.fixture
async def client(redis_server: RedisServer) -> AsyncIterator[AsyncClient]:
    async with AsyncClient.from_url(redis_server.url) as c:
        yield c


async def pricing(delivery: Delivery) -> Quote:
    request = delivery.payload
    assert isinstance(request, QuoteRequest)
    if request.delay:
        await anyio.sleep(request.delay)
    if request.fail:
        raise ValueError(f"secret detail about {request.symbol}")
    return Quote(symbol=request.symbol, n=request.n, bid="189.12")


async def test_request_reply_round_trip_links_ids(client: AsyncClient) -> None:
    seen: list[str] = []

    async def handler(delivery: Delivery) -> Quote:
        seen.append(delivery.envelope.message_id)
        return await pricing(delivery)

    async with (
        AsyncResponder(client, ["rpc.pricing"], handler, codec=make_codec()) as responder,
        AsyncRequester(client, codec=make_codec(), timeout=5.0) as rpc,
    ):
        reply = await rpc.request(QuoteRequest(symbol="AAPL", n=1), "rpc.pricing")
        assert reply.payload == Quote(symbol="AAPL", n=1, bid="189.12")
        assert reply.channel == rpc.inbox
        assert reply.envelope.causation_id == seen[0]  # the reply names its request
        assert reply.envelope.key_id == 7  # sealed under the shared key
        stats = rpc.statistics()
        assert (stats.requests, stats.replies, stats.bad_replies) == (1, 1, 0)
        assert responder.statistics().replies == 1


async def test_concurrent_requests_get_their_own_replies(client: AsyncClient) -> None:
    rng = random.Random(7)
    async with (
        AsyncResponder(client, ["rpc.pricing"], pricing, codec=make_codec()),
        AsyncRequester(client, codec=make_codec(), timeout=10.0) as rpc,
    ):
        got: dict[int, int] = {}

        async def one(i: int) -> None:
            request = QuoteRequest(symbol=f"S{i}", n=i, delay=rng.random() * 0.05)
            reply = await rpc.request(request, "rpc.pricing")
            got[i] = reply.payload.n

        async with anyio.create_task_group() as tg:
            for i in range(60):
                tg.start_soon(one, i)
    assert got == {i: i for i in range(60)}  # replies came back out of order, matched by id
    assert rpc.statistics().replies == 60


async def test_no_responder_fails_fast(client: AsyncClient) -> None:
    async with AsyncRequester(client, codec=make_codec(), timeout=10.0) as rpc:
        with anyio.fail_after(2.0), pytest.raises(NoRespondersError) as info:
            await rpc.request(QuoteRequest(symbol="AAPL"), "rpc.nobody")
        assert info.value.channel == "rpc.nobody"
        assert rpc.statistics().no_responders == 1


async def test_timeout_then_the_late_reply_is_counted(client: AsyncClient) -> None:
    async with (
        AsyncResponder(client, ["rpc.pricing"], pricing, codec=make_codec()),
        AsyncRequester(client, codec=make_codec()) as rpc,
    ):
        with pytest.raises(RequestTimeoutError):
            await rpc.request(QuoteRequest(symbol="AAPL", delay=0.5), "rpc.pricing", timeout=0.1)
        with anyio.fail_after(5.0):
            while rpc.statistics().late_replies < 1:  # noqa: ASYNC110 - polling a counter
                await anyio.sleep(0.02)
        assert rpc.statistics().timeouts == 1
        # the requester still works afterwards
        reply = await rpc.request(QuoteRequest(symbol="MSFT", n=2), "rpc.pricing")
        assert reply.payload.symbol == "MSFT"


async def test_a_failing_handler_names_the_error_class_only(client: AsyncClient) -> None:
    async with (
        AsyncResponder(client, ["rpc.pricing"], pricing, codec=make_codec()) as responder,
        AsyncRequester(client, codec=make_codec()) as rpc,
    ):
        with pytest.raises(RemoteHandlerError) as info:
            await rpc.request(QuoteRequest(symbol="AAPL", fail=True), "rpc.pricing")
    assert info.value.error_type == "ValueError"
    assert info.value.channel == "rpc.pricing"
    assert "secret" not in str(info.value)
    assert responder.statistics().errors == 1
    assert rpc.statistics().remote_errors == 1


async def test_a_forged_reply_is_ignored(client: AsyncClient) -> None:
    """A third party that sees the request (correlation id and inbox are in the clear
    header) answers first, under another key: the requester waits for the real reply."""
    forger_codec = make_codec(Keyring.generate(9))
    forged = 0

    async with (
        AsyncSubscriber(client, config=SubscriberConfig(decode=False)) as spy,
        AsyncPublisher(client, codec=forger_codec) as forger,
        AsyncResponder(client, ["rpc.pricing"], pricing, codec=make_codec()),
        AsyncRequester(client, codec=make_codec()) as rpc,
    ):
        await spy.subscribe("rpc.pricing")

        async def forge(delivery: Delivery) -> None:
            nonlocal forged
            header = make_codec().peek_header(delivery.data)
            inbox = header.headers["rfsdk-reply-to"]
            fake = Quote(symbol="AAPL", n=-1, bid="0.01")
            await forger.publish(fake, inbox, correlation_id=header.correlation_id)
            forged += 1

        spy.add_handler(forge)
        reply = await rpc.request(QuoteRequest(symbol="AAPL", n=5, delay=0.2), "rpc.pricing")
        assert reply.payload.n == 5
        assert reply.payload.bid == "189.12"
        assert forged == 1
        assert rpc.statistics().bad_replies == 1


async def test_every_responder_answers_the_first_wins(client: AsyncClient) -> None:
    async with (
        AsyncResponder(client, ["rpc.pricing"], pricing, codec=make_codec()) as a,
        AsyncResponder(client, ["rpc.pricing"], pricing, codec=make_codec()) as b,
        AsyncRequester(client, codec=make_codec()) as rpc,
    ):
        reply = await rpc.request(QuoteRequest(symbol="AAPL", n=3), "rpc.pricing")
        assert reply.payload.n == 3
        with anyio.fail_after(5.0):
            while rpc.statistics().late_replies < 1:  # noqa: ASYNC110 - polling a counter
                await anyio.sleep(0.02)
        assert a.statistics().replies + b.statistics().replies == 2


async def test_pattern_responder_ignores_plain_messages(client: AsyncClient) -> None:
    async with (
        AsyncResponder(client, ["rpc.*"], pricing, codec=make_codec(), pattern=True) as responder,
        AsyncPublisher(client, codec=make_codec()) as pub,
        AsyncRequester(client, codec=make_codec()) as rpc,
    ):
        assert await pub.publish(QuoteRequest(symbol="X"), "rpc.fx") == 1  # no reply-to
        reply = await rpc.request(QuoteRequest(symbol="EURUSD", n=4), "rpc.fx")
        assert reply.payload.n == 4
        with anyio.fail_after(5.0):
            while responder.statistics().ignored < 1:  # noqa: ASYNC110 - polling a counter
                await anyio.sleep(0.02)
        assert responder.statistics().requests == 1


async def test_bad_settings_name_the_field(client: AsyncClient) -> None:
    with pytest.raises(ConfigurationError, match="timeout"):
        AsyncRequester(client, timeout=0)
    with pytest.raises(ConfigurationError, match="channels"):
        AsyncResponder(client, [], pricing)
    with pytest.raises(ConfigurationError, match="max_concurrency"):
        AsyncResponder(client, ["rpc.x"], pricing, max_concurrency=0)
    with pytest.raises(RuntimeError, match="async with"):
        await AsyncRequester(client).request(QuoteRequest(symbol="X"), "rpc.x")
