"""Templates: safe formatting, missing parameters, refused constructs."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from redis_fintech_sdk.channels import Priority
from redis_fintech_sdk.errors import ConfigurationError, SDKError
from redis_fintech_sdk.patterns import (
    Notification,
    NotificationTemplate,
    SafeFormatter,
    TemplateError,
    TemplateRegistry,
)

FILL = NotificationTemplate(
    template_id="trade.filled",
    title="Filled: {symbol}",
    body="{side} {quantity} {symbol} at {price:,.2f} {currency}",
)


def test_render_substitutes_named_params() -> None:
    title, body = FILL.render(
        {
            "symbol": "AAPL",
            "side": "buy",
            "quantity": 10,
            "price": Decimal("1234.5"),
            "currency": "USD",
        }
    )
    assert title == "Filled: AAPL"
    assert body == "buy 10 AAPL at 1,234.50 USD"
    assert FILL.params == ("symbol", "side", "quantity", "price", "currency")


def test_decimal_string_formats_under_a_numeric_spec() -> None:
    # A Decimal travels as a decimal string; ":,.2f" still formats it exactly.
    _, body = FILL.render(
        {"symbol": "X", "side": "sell", "quantity": "3", "price": "1000000.005", "currency": "EUR"}
    )
    assert body == "sell 3 X at 1,000,000.00 EUR"  # Decimal rounds half-even
    t = NotificationTemplate(template_id="n", title="{n:d}", body="{p:.1%}")
    assert t.render({"n": "42", "p": "0.125"}) == ("42", "12.5%")


def test_missing_params_are_a_typed_error_naming_them() -> None:
    with pytest.raises(TemplateError) as info:
        FILL.render({"symbol": "AAPL", "side": "buy"})
    err = info.value
    assert isinstance(err, SDKError)
    assert isinstance(err, ValueError)
    assert err.template_id == "trade.filled"
    assert err.fields == ("quantity", "price", "currency")
    assert "quantity" in str(err)


@pytest.mark.parametrize(
    "text",
    [
        "{user.__class__}",
        "{params[0]}",
        "{}",
        "{0}",
        "{x!r}",
        "{x!a}",
        "{x:{width}}",
        "{x:>100000}",
        "{x",
        "unbalanced }",
    ],
)
def test_refused_constructs_fail_at_registration(text: str) -> None:
    with pytest.raises(TemplateError):
        NotificationTemplate(template_id="bad", title="ok", body=text)


def test_a_value_that_does_not_fit_its_spec_does_not_leak_the_value() -> None:
    t = NotificationTemplate(template_id="n", title="t", body="{amount:.2f}")
    with pytest.raises(TemplateError) as info:
        t.render({"amount": "secret-not-a-number"})
    assert "secret" not in str(info.value)


def test_values_are_never_reinterpreted_as_templates() -> None:
    t = NotificationTemplate(template_id="echo", title="{a}", body="{a}!")
    assert t.render({"a": "{b.__class__} {0}"}) == ("{b.__class__} {0}", "{b.__class__} {0}!")


@given(st.dictionaries(st.sampled_from(["a", "b", "c"]), st.text(max_size=40), min_size=3))
def test_any_text_values_render_verbatim(params: dict[str, str]) -> None:
    t = NotificationTemplate(template_id="p", title="{a}|{b}", body="{c}{{literal}}")
    assert t.render(params) == (f"{params['a']}|{params['b']}", f"{params['c']}{{literal}}")


def test_formatter_refuses_attribute_access_even_if_called_directly() -> None:
    with pytest.raises(KeyError):
        SafeFormatter().format("{x.real}", x=1)
    with pytest.raises(KeyError):
        SafeFormatter().format("{0}", 1)


def test_registry_renders_notifications_and_refuses_unknown_ids() -> None:
    registry = TemplateRegistry([FILL])
    n = Notification(
        user_id="u1",
        category="trading",
        priority=Priority.HIGH,
        template_id="trade.filled",
        params={
            "symbol": "MSFT",
            "side": "buy",
            "quantity": 1,
            "price": Decimal("10"),
            "currency": "USD",
        },
        data={"order": "O-1"},
    )
    rendered = registry.render(n)
    assert rendered.title == "Filled: MSFT"
    assert rendered.body == "buy 1 MSFT at 10.00 USD"
    assert rendered.notification_id == n.notification_id
    assert rendered.priority is Priority.HIGH
    assert rendered.data == {"order": "O-1"}
    with pytest.raises(TemplateError, match="unknown template"):
        registry.render(n.model_copy(update={"template_id": "nope"}))
    with pytest.raises(ConfigurationError):
        registry.add(FILL)
    registry.add(FILL, replace=True)
    assert "trade.filled" in registry
