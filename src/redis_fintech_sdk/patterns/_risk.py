"""Risk and fraud alert broadcasting on priority channels.

An alert is published on its severity's channel (``risk.alert.critical``,
``fraud.alert.high`` …): a desk screen subscribes to ``risk.alert.*``, a pager bridge only
to ``risk.alert.critical``. Alerts at or above ``durable_from`` (default: high) are first
appended to a stream, keyed by alert id, so an auditor or a consumer group sees each one
exactly once even when Pub/Sub subscribers were offline; a duplicate alert id within the
dedup window is neither appended nor published again.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from decimal import Decimal

from pydantic import Field

from redis_fintech_sdk.channels import Channel, Priority, fraud_alerts, risk_alerts
from redis_fintech_sdk.codec import Message, SensitiveStr, Timestamp, message
from redis_fintech_sdk.connection import AsyncClient
from redis_fintech_sdk.pubsub import AsyncPublisher
from redis_fintech_sdk.streams import FrameCodec, Retention

from ._durable import Confirmation, KeyedStream, publish_copy
from ._notification import priority_rank

__all__ = ["FraudAlert", "FraudAlerts", "RiskAlert", "RiskAlerts"]

_ID = r"^[A-Za-z0-9_.:-]{1,128}$"


def _new_id() -> str:
    return uuid.uuid4().hex


@message("rfsdk.risk.alert", version=1)
class RiskAlert(Message):
    """A risk limit or exposure alert.

    Attributes:
        alert_id: unique id (random by default); the idempotency key.
        severity: ``low`` … ``critical``; selects the channel.
        kind: what tripped (``limit_breach``, ``margin_call``, ``var_spike`` …).
        metric: the measured quantity (``gross_exposure``).
        value: its value.
        limit: the limit it is measured against, if any.
        account_id: the account concerned, if any.
        desk: the desk concerned, if any.
        message: a human-readable summary.
        raised_at: when.
    """

    alert_id: str = Field(default_factory=_new_id, pattern=_ID)
    severity: Priority
    kind: str
    metric: str
    value: Decimal
    limit: Decimal | None = None
    account_id: str | None = None
    desk: str | None = None
    message: str = ""
    raised_at: Timestamp = Field(default_factory=Timestamp.now)


@message("rfsdk.fraud.alert", version=1)
class FraudAlert(Message):
    """A fraud detection alert.

    Attributes:
        alert_id: unique id (random by default); the idempotency key.
        severity: selects the channel.
        account_id: the account (redacted in logs).
        transaction_id: the suspicious transaction, if any.
        score: the model's score in [0, 1].
        rules: the rules or signals that fired.
        message: a human-readable summary.
        raised_at: when.
    """

    alert_id: str = Field(default_factory=_new_id, pattern=_ID)
    severity: Priority
    account_id: SensitiveStr
    transaction_id: str | None = None
    score: Decimal = Field(ge=0, le=1)
    rules: list[str] = Field(default_factory=list)
    message: str = ""
    raised_at: Timestamp = Field(default_factory=Timestamp.now)


class _Broadcaster:
    """What :class:`RiskAlerts` and :class:`FraudAlerts` share; they set the class defaults.

    Args:
        client: the SDK client.
        publisher: the publisher.
        codec: frames stream entries.
        stream: the stream of durable alerts (default: the class's).
        durable_from: the lowest severity also appended to the stream (``None``: never).
        tenant: the tenant of the channels.
        dedup_window: seconds an alert id is remembered.
        retention: how much of the stream to keep.
    """

    _default_stream: str
    _producer_id: str
    _channel_builder: Callable[..., Channel]

    def __init__(
        self,
        client: AsyncClient,
        publisher: AsyncPublisher,
        *,
        codec: FrameCodec | None = None,
        stream: str | None = None,
        durable_from: Priority | str | None = Priority.HIGH,
        tenant: str | None = None,
        dedup_window: float = 24 * 3600.0,
        retention: Retention | None = None,
    ) -> None:
        self._publisher = publisher
        self._tenant = tenant
        self._durable_rank = (
            None if durable_from is None else priority_rank(Priority.parse(durable_from))
        )
        self._stream = KeyedStream(
            client,
            stream or self._default_stream,
            producer_id=self._producer_id,
            codec=codec,
            dedup_window=dedup_window,
            dedup_max_ids=100_000,
            retention=retention,
            durability=None,
        )

    @property
    def stream(self) -> str:
        """The stream key of durable alerts."""
        return self._stream.stream

    def channel(self, severity: Priority | str) -> Channel:
        """The channel of one severity.

        Raises:
            ConfigurationError: an unknown severity.
        """
        return type(self)._channel_builder(Priority.parse(severity).value, tenant=self._tenant)

    async def _broadcast(self, alert: RiskAlert | FraudAlert) -> Confirmation:
        entry: str | None = None
        if self._durable_rank is not None and priority_rank(alert.severity) >= self._durable_rank:
            entry, duplicate = await self._stream.append(alert, alert.alert_id)
            if duplicate:
                return Confirmation(entry, True)
        headers = {"severity": alert.severity.value}
        receivers = await publish_copy(
            self._publisher, alert, self.channel(alert.severity), headers
        )
        return Confirmation(entry, False, receivers)


class RiskAlerts(_Broadcaster):
    """Broadcasts :class:`RiskAlert` messages on ``risk.alert.<severity>`` (module docs).

    Arguments are those of the shared base; ``stream`` defaults to ``risk.alerts``.
    """

    _default_stream = "risk.alerts"
    _producer_id = "risk-alerts"
    _channel_builder = staticmethod(risk_alerts)

    async def broadcast(self, alert: RiskAlert) -> Confirmation:
        """Append (from ``durable_from`` up) and publish one alert.

        Raises:
            CodecError: the alert cannot be encoded.
            RedisError: the append or the publish failed.
        """
        return await self._broadcast(alert)


class FraudAlerts(_Broadcaster):
    """Broadcasts :class:`FraudAlert` messages on ``fraud.alert.<severity>`` (module docs).

    Arguments are those of the shared base; ``stream`` defaults to ``fraud.alerts``.
    """

    _default_stream = "fraud.alerts"
    _producer_id = "fraud-alerts"
    _channel_builder = staticmethod(fraud_alerts)

    async def broadcast(self, alert: FraudAlert) -> Confirmation:
        """Append (from ``durable_from`` up) and publish one alert.

        Raises:
            CodecError: the alert cannot be encoded.
            RedisError: the append or the publish failed.
        """
        return await self._broadcast(alert)
