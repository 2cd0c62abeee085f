"""Compliance event distribution and regulatory reporting triggers, on durable streams.

* :class:`ComplianceEvent` is registered ``confidential``: the codec encrypts every frame
  of it (AES-256-GCM) and refuses to write or read one in clear, so
  :class:`ComplianceEvents` insists on a codec with a keyring at construction. Events go to
  one stream keyed by event id; consumers (case management, surveillance, archiving) read
  it with their own consumer groups. An optional Pub/Sub hint on
  ``compliance.event.<category>`` (encrypted too) wakes dashboards.
* :class:`RegulatoryReportTrigger` asks the reporting pipeline to produce one report for
  one period. Its idempotency key is ``<report>:<period>``, so however many schedulers or
  operators fire it, one trigger per report period lands on the stream within the
  dedup window (40 days by default: longer than a monthly cycle).
"""

from __future__ import annotations

import uuid

from pydantic import Field

from redis_fintech_sdk.channels import Priority, compliance_events
from redis_fintech_sdk.codec import Message, SensitiveStr, Timestamp, message
from redis_fintech_sdk.connection import AsyncClient
from redis_fintech_sdk.pubsub import AsyncPublisher
from redis_fintech_sdk.streams import Durability, FrameCodec, Retention

from ._durable import Confirmation, KeyedStream, publish_copy, require_encryption

__all__ = [
    "ComplianceEvent",
    "ComplianceEvents",
    "RegulatoryReportTrigger",
    "RegulatoryReporting",
]

_ID = r"^[A-Za-z0-9_.:-]{1,128}$"


def _new_id() -> str:
    return uuid.uuid4().hex


@message("rfsdk.compliance.event", version=1, classification="confidential")
class ComplianceEvent(Message):
    """A compliance-relevant event (KYC, AML, sanctions, surveillance …). Always encrypted.

    Attributes:
        event_id: unique id (random by default); the idempotency key.
        category: ``kyc``, ``aml``, ``sanctions``, ``surveillance`` … (a channel segment).
        kind: what happened (``kyc.expired``, ``sanctions.hit``, ``large_cash_deposit``).
        subject_id: the customer or account concerned (redacted in logs).
        severity: how urgent.
        details: string facts for the case (never logged by the SDK).
        occurred_at: when.
    """

    event_id: str = Field(default_factory=_new_id, pattern=_ID)
    category: str = Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")
    kind: str
    subject_id: SensitiveStr
    severity: Priority = Priority.NORMAL
    details: dict[str, str] = Field(default_factory=dict)
    occurred_at: Timestamp = Field(default_factory=Timestamp.now)


@message("rfsdk.regulatory.report_trigger", version=1)
class RegulatoryReportTrigger(Message):
    """A request to produce one regulatory report for one period.

    Attributes:
        report: the report (``MiFIR-RTS22``, ``EMIR``, ``SAR`` …).
        period: the period it covers (``2024-05``, ``2024-Q2``, ``2024-05-31``).
        reason: why now (``schedule``, ``threshold``, ``manual``).
        requested_by: who or what fired it.
        due_at: the regulatory deadline, if any.
        triggered_at: when.
    """

    report: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    period: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,32}$")
    reason: str = "schedule"
    requested_by: str = ""
    due_at: Timestamp | None = None
    triggered_at: Timestamp = Field(default_factory=Timestamp.now)

    @property
    def trigger_id(self) -> str:
        """``<report>:<period>``: the idempotency key."""
        return f"{self.report}:{self.period}"


class ComplianceEvents:
    """Distributes compliance events (:class:`ComplianceEvent`) on an encrypted stream.

    Args:
        client: the SDK client.
        codec: a :class:`~redis_fintech_sdk.codec.Codec` with a keyring (required).
        publisher: sends an encrypted hint on ``compliance.event.<category>`` (optional;
            its codec needs a keyring too).
        stream: the stream key.
        tenant: the tenant of the Pub/Sub channel.
        dedup_window: seconds an event id is remembered.
        retention: how much of the stream to keep (regulation usually says: everything).
        durability: what each append waits for.

    Raises:
        ConfigurationError: a codec (or the publisher's) without a keyring.
    """

    def __init__(
        self,
        client: AsyncClient,
        *,
        codec: FrameCodec,
        publisher: AsyncPublisher | None = None,
        stream: str = "compliance.events",
        tenant: str | None = None,
        dedup_window: float = 7 * 24 * 3600.0,
        retention: Retention | None = None,
        durability: Durability | None = None,
    ) -> None:
        require_encryption(codec, "ComplianceEvent")
        if publisher is not None:
            require_encryption(publisher.codec, "ComplianceEvent", "publisher.codec")
        self._stream = KeyedStream(
            client,
            stream,
            producer_id="compliance-events",
            codec=codec,
            dedup_window=dedup_window,
            dedup_max_ids=100_000,
            retention=retention,
            durability=durability,
        )
        self._publisher = publisher
        self._tenant = tenant

    @property
    def stream(self) -> str:
        """The stream key."""
        return self._stream.stream

    async def publish(self, event: ComplianceEvent) -> Confirmation:
        """Append the event once (encrypted); send the hint when it is new.

        Raises:
            PolicyError: the codec could not encrypt it.
            RedisError: the append or the publish failed.
        """
        entry, duplicate = await self._stream.append(event, event.event_id)
        if duplicate:
            return Confirmation(entry, True)
        channel = compliance_events(event.category, tenant=self._tenant)
        headers = {"severity": event.severity.value, "category": event.category}
        return Confirmation(
            entry, False, await publish_copy(self._publisher, event, channel, headers)
        )


class RegulatoryReporting:
    """Fires report triggers (:class:`RegulatoryReportTrigger`) once per report and period.

    Args:
        client: the SDK client.
        codec: frames stream entries.
        stream: the stream key the reporting pipeline consumes.
        dedup_window: seconds a ``report:period`` key is remembered.
        durability: what each append waits for.
    """

    def __init__(
        self,
        client: AsyncClient,
        *,
        codec: FrameCodec | None = None,
        stream: str = "regulatory.report_triggers",
        dedup_window: float = 40 * 24 * 3600.0,
        durability: Durability | None = None,
    ) -> None:
        self._stream = KeyedStream(
            client,
            stream,
            producer_id="regulatory-reporting",
            codec=codec,
            dedup_window=dedup_window,
            dedup_max_ids=100_000,
            retention=None,
            durability=durability,
        )

    @property
    def stream(self) -> str:
        """The stream key."""
        return self._stream.stream

    async def trigger(self, trigger: RegulatoryReportTrigger) -> Confirmation:
        """Append the trigger unless this report period was already triggered.

        Raises:
            CodecError: the trigger cannot be encoded.
            RedisError: the append failed.
        """
        entry, duplicate = await self._stream.append(trigger, trigger.trigger_id)
        return Confirmation(entry, duplicate)
