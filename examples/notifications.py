"""User notifications: preferences, templates, dedup, sinks, tracking and escalation.

    python examples/notifications.py

Runs on an embedded redis-server and a local webhook receiver (127.0.0.1). Alice gets a
trade notification in-app, by e-mail (a stand-in provider) and by webhook (the receiver
verifies the signature; its first answer is a 500, so the dispatcher retries). The same
notification sent again is dropped as a duplicate. A critical margin call nobody
acknowledges is escalated to the on-call user; a second one, acknowledged at once, is not.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import anyio

from redis_fintech_sdk.channels import Priority, user_notifications
from redis_fintech_sdk.connection import AsyncClient
from redis_fintech_sdk.patterns import (
    CallbackSink,
    CategoryPreference,
    DeliveryChannel,
    EscalationConfig,
    EscalationPolicy,
    EscalationTier,
    Escalator,
    InAppSink,
    Notification,
    NotificationRouter,
    NotificationTemplate,
    ParamValue,
    RedisPreferenceStore,
    RenderedNotification,
    RouterConfig,
    TemplateRegistry,
    UrllibTransport,
    UserPreferences,
    WebhookConfig,
    WebhookDispatcher,
    WebhookEndpoint,
    WebhookSignatureError,
    WebhookSink,
    verify_webhook,
)
from redis_fintech_sdk.pubsub import AsyncPublisher, AsyncSubscriber
from redis_fintech_sdk.resilience import RetryPolicy
from redis_fintech_sdk.security import HmacKeySet
from redis_fintech_sdk.testing import RedisServer

KEYS = HmacKeySet.generate("wh1")  # shared with the receiver out of band

TEMPLATES = TemplateRegistry(
    [
        NotificationTemplate(
            template_id="trade.filled",
            title="{side} {symbol} filled",
            body="{quantity} {symbol} at {price:,.2f} {currency}",
        ),
        NotificationTemplate(
            template_id="margin.call",
            title="Margin call on {account}",
            body="Deposit {shortfall:,.2f} {currency} by {deadline}",
        ),
    ]
)


@contextmanager
def webhook_receiver() -> Iterator[tuple[str, list[str]]]:
    """A receiver that verifies signatures; it answers the very first request with 500."""
    seen: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            try:
                verify_webhook(body, self.headers.get("Rfsdk-Signature"), KEYS)
                status = 500 if not seen else 200
                seen.append(f"{self.headers['Rfsdk-Event-Type']} -> {status}")
            except WebhookSignatureError as exc:
                status = 401
                seen.append(f"refused: {exc.reason}")
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hooks", seen
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


async def run(url: str, hook_url: str) -> dict[str, object]:
    emails: list[str] = []

    async def send_email(rendered: RenderedNotification) -> None:  # your provider here
        emails.append(f"to {rendered.user_id}: {rendered.title}")

    async with (
        AsyncClient.from_url(url) as client,
        AsyncPublisher(client) as publisher,
        AsyncSubscriber(client) as app,
    ):
        prefs = RedisPreferenceStore(client)
        await prefs.set(
            UserPreferences(
                user_id="alice",
                categories={
                    "trading": CategoryPreference(
                        channels=frozenset(
                            {DeliveryChannel.IN_APP, DeliveryChannel.EMAIL, DeliveryChannel.WEBHOOK}
                        )
                    ),
                    "marketing": CategoryPreference(enabled=False),
                },
            )
        )
        webhooks = WebhookDispatcher(
            client,
            transport=UrllibTransport(trust_env=False),
            config=WebhookConfig(retry=RetryPolicy(attempts=3, base=0.05, cap=0.2)),
        )
        escalator = Escalator(
            client,
            [
                EscalationPolicy(
                    name="margin",
                    tiers=(EscalationTier(after=0.3, recipients=("oncall",)),),
                )
            ],
            config=EscalationConfig(poll_interval=0.05),
        )
        router = NotificationRouter(
            client,
            sinks=[
                InAppSink(publisher),
                CallbackSink(DeliveryChannel.EMAIL, send_email),
                WebhookSink(webhooks, WebhookEndpoint(name="alice-crm", url=hook_url, keys=KEYS)),
            ],
            preferences=prefs,
            templates=TEMPLATES,
            escalator=escalator,
            config=RouterConfig(dedup_window=60.0),
        )
        await app.subscribe(user_notifications("alice"), user_notifications("oncall"))
        async with router:  # also runs the escalation loop
            fill: dict[str, ParamValue] = {
                "side": "Buy",
                "symbol": "AAPL",
                "quantity": 100,
                "price": Decimal("189.125"),
                "currency": "USD",
            }
            first = Notification(
                user_id="alice", category="trading", template_id="trade.filled", params=fill
            )
            result = await router.send(first)
            print(
                "trade fill:",
                result.status.value,
                {c.value: s.value for c, s in result.deliveries.items()},
            )
            again = Notification(
                user_id="alice", category="trading", template_id="trade.filled", params=fill
            )
            print("same fill again:", (await router.send(again)).status.value)
            promo = Notification(
                user_id="alice", category="marketing", template_id="trade.filled", params=fill
            )
            print("marketing:", (await router.send(promo)).reason)

            margin: dict[str, ParamValue] = {
                "shortfall": Decimal("25000"),
                "currency": "USD",
                "deadline": "16:00 UTC",
            }
            unanswered = Notification(
                user_id="alice",
                category="risk",
                priority=Priority.CRITICAL,
                template_id="margin.call",
                params={"account": "ACC-7", **margin},
                escalation_policy="margin",
            )
            answered = unanswered.model_copy(
                update={"notification_id": "margin-acc-8", "params": {"account": "ACC-8", **margin}}
            )
            await router.send(unanswered)
            await router.send(answered)
            await router.acknowledge(answered.notification_id, by="alice")
            started = time.monotonic()
            with anyio.fail_after(10):
                while escalator.statistics().fired < 1:  # noqa: ASYNC110
                    await anyio.sleep(0.02)
            print(f"escalated after {time.monotonic() - started:.1f}s (ACC-7 unanswered)")
            await anyio.sleep(0.5)  # ACC-8's escalation would be due by now: it stays quiet

        inbox: list[str] = []
        with anyio.move_on_after(0.5):
            while True:
                delivery = await app.get()
                inbox.append(f"{delivery.payload.user_id}: {delivery.payload.title}")
        status = await router.status(first.notification_id)
        assert status is not None
        print("in-app:", *inbox, sep="\n  ")
        print("e-mail:", emails)
        print("tracking of the fill:", {k: v.state.value for k, v in status.sinks.items()})
        return {
            "inbox": inbox,
            "emails": emails,
            "escalations": escalator.statistics().fired,
            "stats": router.statistics(),
        }


def main(url: str | None = None) -> int:
    with webhook_receiver() as (hook_url, seen):
        if url is None:
            with RedisServer() as server:
                outcome = anyio.run(run, server.url, hook_url)
        else:
            outcome = anyio.run(run, url, hook_url)
    print("webhook receiver saw:", seen)
    print("router:", outcome["stats"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
