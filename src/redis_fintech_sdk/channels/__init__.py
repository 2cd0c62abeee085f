"""Channel names, patterns, tenants, hash tags and routing — sans-I/O.

Nothing here talks to Redis: these are the values the Pub/Sub and Streams layers pass to it.
See ``docs/channels.md``.
"""

from __future__ import annotations

from ._builders import (
    Priority,
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
from ._glob import glob_escape, glob_match, has_glob_meta
from ._keyslot import SLOT_COUNT, crc16, hash_tag, keyslot
from ._names import (
    MAX_NAME_LENGTH,
    MAX_SEGMENT_LENGTH,
    MAX_SEGMENTS,
    TENANT_PREFIX,
    Channel,
    ChannelLike,
    ChannelPattern,
    ChannelPatternLike,
    as_channel,
    as_pattern,
)
from ._routing import RoutingTable
from ._routing_check import RoutingProblem
from ._routing_model import (
    Deployment,
    MessageView,
    RouteMatch,
    RouteTarget,
    RoutingDecision,
    RoutingRule,
    Template,
)

__all__ = [
    "Channel",
    "ChannelLike",
    "ChannelPattern",
    "ChannelPatternLike",
    "Deployment",
    "MAX_NAME_LENGTH",
    "MAX_SEGMENTS",
    "MAX_SEGMENT_LENGTH",
    "MessageView",
    "Priority",
    "RouteMatch",
    "RouteTarget",
    "RoutingDecision",
    "RoutingProblem",
    "RoutingRule",
    "RoutingTable",
    "SLOT_COUNT",
    "TENANT_PREFIX",
    "Template",
    "as_channel",
    "as_pattern",
    "compliance_events",
    "crc16",
    "fraud_alerts",
    "glob_escape",
    "glob_match",
    "has_glob_meta",
    "hash_tag",
    "keyslot",
    "market_depth",
    "market_events",
    "market_price",
    "market_trades",
    "portfolio_updates",
    "risk_alerts",
    "trade_executions",
    "user_notifications",
]
