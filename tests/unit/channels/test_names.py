from __future__ import annotations

import pickle

import pytest
from hypothesis import given
from hypothesis import strategies as st

from redis_fintech_sdk.channels import (
    MAX_NAME_LENGTH,
    MAX_SEGMENTS,
    Channel,
    ChannelPattern,
    Priority,
    as_channel,
    as_pattern,
    compliance_events,
    fraud_alerts,
    market_depth,
    market_events,
    market_price,
    market_trades,
    portfolio_updates,
    risk_alerts,
    trade_executions,
    user_notifications,
)
from redis_fintech_sdk.errors import ConfigurationError


@pytest.mark.parametrize(
    "name",
    [
        "market.price.AAPL",
        "market.depth.XNAS.AAPL",
        "notify.user.42",
        "tenant:acme:notify.user.42",
        "market.depth.XNAS.{AAPL}",
        "trade.exec",
        "risk.alert.high-sev_2",
    ],
)
def test_valid_names(name: str) -> None:
    channel = Channel(name)
    assert str(channel) == name
    assert Channel(str(channel)) == channel
    assert ChannelPattern.literal(channel).matches(channel)


@pytest.mark.parametrize(
    ("name", "needle"),
    [
        ("market", "at least"),
        ("Market.price", "lower case"),
        ("market.price.AA PL", "' '"),
        ("market.price.BRK.B", None),  # valid: four segments (dots separate)
        ("market..AAPL", "kind is empty"),
        ("market.price.", "segment 3 is empty"),
        ("market.price.*", "'*'"),
        ("market.price.a:b", "':'"),
        ("tenant:acme", "tenant prefix"),
        ("tenant::market.price", "tenant id is empty"),
        ("market.price.{A}.{B}", "more than one hash tag"),
        ("market.price.{}", "segment 3 is empty"),
        ("market.price.{A", "'{'"),
        ("market.price." + "A" * 65, "longer than 64"),
        (".".join(["a"] * (MAX_SEGMENTS + 1)), "more than 16 segments"),
        ("a.b." + ".".join(["x" * 60] * 5), f"longer than {MAX_NAME_LENGTH}"),
    ],
)
def test_invalid_names_say_what_is_wrong(name: str, needle: str | None) -> None:
    if needle is None:
        assert Channel(name).qualifiers == ("BRK", "B")
        return
    with pytest.raises(ConfigurationError, match="channel") as info:
        Channel(name)
    assert needle in str(info.value)
    assert isinstance(info.value, ValueError)


def test_value_semantics() -> None:
    a, b = Channel("market.price.AAPL"), Channel("market.price.AAPL")
    assert a == b
    assert hash(a) == hash(b)
    assert len({a, b}) == 1
    assert a != "market.price.AAPL"
    assert sorted([Channel("b.a"), Channel("a.b")])[0] == Channel("a.b")
    with pytest.raises(AttributeError):
        a.domain = "x"
    assert pickle.loads(pickle.dumps(a)) == a
    assert repr(a) == "Channel('market.price.AAPL')"
    assert a.family == "market.price"
    assert a.encode() == b"market.price.AAPL"


def test_parts_and_derivations() -> None:
    c = Channel("tenant:acme:market.depth.XNAS.{AAPL}")
    assert (c.tenant, c.domain, c.kind, c.qualifiers) == (
        "acme",
        "market",
        "depth",
        ("XNAS", "{AAPL}"),
    )
    assert c.hash_tag == "AAPL"
    assert str(c.in_tenant(None)) == "market.depth.XNAS.{AAPL}"
    assert str(c.sharded(0)) == "tenant:acme:market.depth.{XNAS}.AAPL"
    assert str(Channel("notify.user").child("42")) == "notify.user.42"
    with pytest.raises(ConfigurationError):
        Channel("trade.exec").sharded()
    assert as_channel("a.b") == Channel("a.b")
    assert as_channel(c) is c


def test_builders() -> None:
    assert str(market_price("AAPL")) == "market.price.AAPL"
    assert str(market_depth("AAPL", venue="XNAS")) == "market.depth.XNAS.AAPL"
    assert str(market_depth("AAPL", venue="XNAS", sharded=True)) == "market.depth.XNAS.{AAPL}"
    assert str(market_trades("AAPL", tenant="t1")) == "tenant:t1:market.trades.AAPL"
    assert str(market_events(venue="XNAS")) == "market.events.XNAS"
    assert str(portfolio_updates("P-9")) == "portfolio.update.P-9"
    assert str(user_notifications(42, sharded=True)) == "notify.user.{42}"
    assert str(risk_alerts("critical")) == "risk.alert.critical"
    assert str(fraud_alerts()) == "fraud.alert"
    assert str(compliance_events("kyc")) == "compliance.event.kyc"
    assert str(trade_executions()) == "trade.exec"
    assert str(trade_executions("normal")) == "trade.exec"
    assert str(trade_executions(Priority.HIGH)) == "trade.exec.high"
    assert str(trade_executions("critical", desk="fx")) == "trade.exec.fx.critical"
    with pytest.raises(ConfigurationError, match="priority"):
        trade_executions("urgent")
    with pytest.raises(ConfigurationError, match="segment"):
        market_price("AAPL US")


def test_patterns() -> None:
    p = ChannelPattern("market.price.*")
    assert p.matches("market.price.AAPL")
    assert p.matches(Channel("market.price.X.Y"))
    assert not p.matches("market.depth.AAPL")
    assert p.tenant is None
    t = p.in_tenant("acme")
    assert str(t) == "tenant:acme:market.price.*"
    assert t.tenant == "acme"
    assert not t.matches("tenant:evil:market.price.AAPL")
    assert ChannelPattern("tenant:a*:x.*").tenant is None  # not pinned to one tenant
    assert str(ChannelPattern.family("market")) == "market.*"
    assert str(ChannelPattern.family("market", "depth", tenant="t")) == "tenant:t:market.depth.*"
    assert as_pattern("a.*") == ChannelPattern("a.*")
    assert hash(as_pattern("a.*"))
    with pytest.raises(ConfigurationError, match="pattern"):
        ChannelPattern("")
    with pytest.raises(ConfigurationError, match="' '"):
        ChannelPattern("market price")
    with pytest.raises(ConfigurationError, match="already"):
        t.in_tenant("b")


_word = st.from_regex(r"[A-Za-z0-9_-]{1,10}", fullmatch=True)
_lower = st.from_regex(r"[a-z][a-z0-9_-]{0,8}", fullmatch=True)


@given(
    domain=_lower,
    kind=_lower,
    qualifiers=st.lists(_word, max_size=5),
    tenant=st.none() | _word,
)
def test_round_trip_and_self_match(
    domain: str, kind: str, qualifiers: list[str], tenant: str | None
) -> None:
    channel = Channel.of(domain, kind, *qualifiers, tenant=tenant)
    assert Channel(str(channel)) == channel
    assert (channel.tenant, channel.domain, channel.kind) == (tenant, domain, kind)
    assert channel.qualifiers == tuple(qualifiers)
    # Valid names have no glob metacharacters: a name is a pattern matching only itself.
    assert ChannelPattern(str(channel)).matches(channel)
    assert ChannelPattern.family(domain, tenant=tenant).matches(channel)
