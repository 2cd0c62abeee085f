"""FinTech pattern helpers on top of Pub/Sub and Streams (layer 4).

Notifications
    :class:`Notification` (a registered message) -> :class:`NotificationRouter`: templates
    (:class:`TemplateRegistry`, :class:`SafeFormatter`), per-user preferences
    (:class:`UserPreferences`, quiet hours, minimum priority), cross-process
    deduplication, delivery sinks (:class:`InAppSink` on ``notify.user.<id>``,
    :class:`WebhookSink`, :class:`CallbackSink`), delivery tracking
    (:class:`DeliveryTracker`), escalation of unacknowledged critical alerts
    (:class:`Escalator`), and durable per-priority delivery (:class:`NotificationQueue`).
Webhooks
    :class:`WebhookDispatcher`: HMAC-signed JSON posts (:func:`sign_webhook` /
    :func:`verify_webhook`), retries, a breaker per endpoint, a dead-letter stream.
Trading, risk and compliance
    :class:`TradeConfirmations`, :class:`SettlementConfirmations`,
    :class:`BalanceNotifier`, :class:`RiskAlerts`, :class:`FraudAlerts`,
    :class:`ComplianceEvents` (encrypted) and :class:`RegulatoryReporting`.
Market data
    Messages :class:`PriceTick`, :class:`TradePrint`, :class:`DepthSnapshot`,
    :class:`DepthUpdate`, :class:`MarketStatusEvent`, :class:`PortfolioUpdate`;
    :class:`MarketDataPublisher` (typed channels, stored snapshot and status for late
    joiners, :class:`MarketDataStore`); :class:`OrderBook` (snapshot + sequenced updates,
    gap detection) kept in sync by :class:`OrderBookSubscriber`; conflated ticks for slow
    consumers with :class:`TickSubscriber`.

What each helper guarantees, and what it does not: ``docs/patterns.md``.
"""

from __future__ import annotations

from ._compliance import (
    ComplianceEvent,
    ComplianceEvents,
    RegulatoryReporting,
    RegulatoryReportTrigger,
)
from ._dedup import Deduplicator, DedupVerdict, dedup_fingerprint
from ._durable import Confirmation
from ._errors import TemplateError, WebhookDeliveryError, WebhookSignatureError
from ._escalation import EscalationConfig, EscalationState, EscalationStatistics, Escalator
from ._escalation_policy import EscalationPolicy, EscalationTier, escalation_schedule
from ._market_data import (
    DepthSnapshot,
    DepthUpdate,
    LevelChange,
    MarketStatus,
    MarketStatusEvent,
    PortfolioUpdate,
    Position,
    PriceLevel,
    PriceTick,
    TradePrint,
)
from ._market_data_book import BookAction, OrderBook, OrderBookStatistics
from ._market_data_feed import MarketDataPublisher, MarketDataStore
from ._market_data_subscribers import OrderBookSubscriber, TickSubscriber
from ._notification import (
    DeliveryChannel,
    Notification,
    ParamValue,
    RenderedNotification,
    priority_rank,
)
from ._preference_store import PreferenceSource, RedisPreferenceStore, StaticPreferences
from ._preferences import (
    CategoryPreference,
    DeliveryPlan,
    QuietHours,
    UserPreferences,
    plan_delivery,
)
from ._queue import DEFAULT_CONCURRENCY, NotificationQueue, NotificationWorker
from ._risk import FraudAlert, FraudAlerts, RiskAlert, RiskAlerts
from ._router import NotificationRouter, RouterConfig, RouterStatistics, SendResult, SendStatus
from ._sinks import CallbackSink, InAppSink, Sink
from ._templates import NotificationTemplate, SafeFormatter, TemplateRegistry
from ._tracking import DeliveryState, DeliveryStatus, DeliveryTracker, SinkDelivery
from ._trading import (
    BalanceNotifier,
    BalanceUpdated,
    SettlementConfirmations,
    SettlementConfirmed,
    TradeConfirmations,
    TradeExecuted,
)
from ._webhook_signing import SIGNATURE_HEADER, sign_webhook, verify_webhook
from ._webhook_sink import WebhookSink
from ._webhook_transport import HttpResponse, HttpTransport, UrllibTransport
from ._webhook_values import (
    WebhookConfig,
    WebhookDeadLetter,
    WebhookEndpoint,
    WebhookResult,
    WebhookStatistics,
)
from ._webhooks import WebhookDispatcher

__all__ = [
    "BalanceNotifier",
    "BalanceUpdated",
    "BookAction",
    "CallbackSink",
    "CategoryPreference",
    "ComplianceEvent",
    "ComplianceEvents",
    "Confirmation",
    "DEFAULT_CONCURRENCY",
    "DedupVerdict",
    "Deduplicator",
    "DeliveryChannel",
    "DeliveryPlan",
    "DeliveryState",
    "DeliveryStatus",
    "DeliveryTracker",
    "DepthSnapshot",
    "DepthUpdate",
    "EscalationConfig",
    "EscalationPolicy",
    "EscalationState",
    "EscalationStatistics",
    "EscalationTier",
    "Escalator",
    "FraudAlert",
    "FraudAlerts",
    "HttpResponse",
    "HttpTransport",
    "InAppSink",
    "LevelChange",
    "MarketDataPublisher",
    "MarketDataStore",
    "MarketStatus",
    "MarketStatusEvent",
    "Notification",
    "NotificationQueue",
    "NotificationRouter",
    "NotificationTemplate",
    "NotificationWorker",
    "OrderBook",
    "OrderBookStatistics",
    "OrderBookSubscriber",
    "ParamValue",
    "PortfolioUpdate",
    "Position",
    "PreferenceSource",
    "PriceLevel",
    "PriceTick",
    "QuietHours",
    "RedisPreferenceStore",
    "RegulatoryReportTrigger",
    "RegulatoryReporting",
    "RenderedNotification",
    "RiskAlert",
    "RiskAlerts",
    "RouterConfig",
    "RouterStatistics",
    "SIGNATURE_HEADER",
    "SafeFormatter",
    "SendResult",
    "SendStatus",
    "SettlementConfirmations",
    "SettlementConfirmed",
    "Sink",
    "SinkDelivery",
    "StaticPreferences",
    "TemplateError",
    "TemplateRegistry",
    "TickSubscriber",
    "TradeConfirmations",
    "TradeExecuted",
    "TradePrint",
    "UrllibTransport",
    "UserPreferences",
    "WebhookConfig",
    "WebhookDeadLetter",
    "WebhookDeliveryError",
    "WebhookDispatcher",
    "WebhookEndpoint",
    "WebhookResult",
    "WebhookSignatureError",
    "WebhookSink",
    "WebhookStatistics",
    "dedup_fingerprint",
    "escalation_schedule",
    "plan_delivery",
    "priority_rank",
    "sign_webhook",
    "verify_webhook",
]
