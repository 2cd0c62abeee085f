"""A gateway subscribing on a user's behalf: token check, tenant isolation, rate limit, audit.

Runs self-contained on a private redis-server:

    python examples/access_tokens.py

1. an auth service issues a short-lived token scoped to one tenant's notification channel;
2. the gateway verifies it, checks the channel against the token and the tenant namespace,
   rate-limits the user, and only then subscribes (as its own least-privilege ACL user);
3. every refusal lands in the tenant's hash-chained audit trail, which is then verified.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import secrets

from redis_fintech_sdk.connection import AsyncClient
from redis_fintech_sdk.errors import AuthorizationError, RateLimitedError
from redis_fintech_sdk.security import (
    AsyncAclAdmin,
    AsyncAuditLog,
    AsyncRateLimiter,
    AuditEvent,
    Authorizer,
    ChannelGrant,
    HmacKeySet,
    Principal,
    RateLimit,
    Tenant,
    TenantPolicy,
    TokenIssuer,
    TokenPolicy,
    TokenVerifier,
    audit_writer_role,
    market_data_reader_role,
)
from redis_fintech_sdk.settings import ConnectionConfig, Credentials, Secret
from redis_fintech_sdk.testing import RedisServer


async def main() -> None:
    admin_pw = secrets.token_urlsafe(16)
    gw_pw = secrets.token_urlsafe(16)
    acme = Tenant("acme")
    with RedisServer(acl_users=[f"admin on >{admin_pw} ~* &* +@all", "default off"]) as server:

        def as_user(name: str, pw: str) -> ConnectionConfig:
            creds = Credentials(username=name, password=Secret(pw))
            return ConnectionConfig(host=server.host, port=server.port, credentials=creds)

        async with AsyncClient(as_user("admin", admin_pw)) as admin:
            # The gateway's own Redis user: notification channels and the audit trail of acme.
            gateway_role = market_data_reader_role(channels=["notify.*"], keys=["notify:*"])
            gateway = acme.acl_user(gateway_role, Secret(gw_pw), name="gateway@acme")
            writer = acme.acl_user(audit_writer_role(), Secret(gw_pw), name="audit@acme")
            await AsyncAclAdmin(admin).provision([gateway, writer])
            audit_keys = HmacKeySet.generate("a1")

            # 1. The auth service issues a token (HS256, key id "t1", 5 minutes).
            token_keys = HmacKeySet.generate("t1")
            issuer = TokenIssuer(hmac_keys=token_keys, issuer="auth", audience="gateway")
            token = issuer.issue(
                "user-42",
                [ChannelGrant.of("notify.user.42", "subscribe")],
                ttl=300,
                tenant="acme",
            )

            async with (
                AsyncClient(as_user("gateway@acme", gw_pw)) as gw,
                AsyncClient(as_user("audit@acme", gw_pw)) as audit_client,
            ):
                audit = AsyncAuditLog(audit_client, keys=audit_keys, tenant="acme")
                denied: list[AuditEvent] = []
                authz = Authorizer([TenantPolicy(), TokenPolicy()], on_denied=denied.append)
                verifier = TokenVerifier(hmac_keys=token_keys, issuer="auth", audience="gateway")
                # The limiter needs EVALSHA on its keys: here the admin connection, in
                # production a dedicated user with +evalsha +eval +script|load ~rfsdk:rl:*.
                limiter = AsyncRateLimiter(admin, RateLimit(rate=5, burst=2))

                async def subscribe_for(raw_token: str, channel: str) -> None:
                    try:
                        principal = Principal.from_claims(verifier.verify(raw_token))
                        authz.check_subscribe(channel, principal)
                        await limiter.acquire(f"user:{principal.id}")
                    except (AuthorizationError, RateLimitedError) as exc:
                        print(f"  refused {channel}: {exc}")
                        if isinstance(exc, RateLimitedError):
                            denied.append(
                                AuditEvent(
                                    kind="rate_limited",
                                    actor="user-42",
                                    outcome="denied",
                                    channel=channel,
                                )
                            )
                        for event in denied:
                            await audit.append(event)
                        denied.clear()
                        return
                    pubsub = gw.pubsub()
                    with gw.translate_errors("SUBSCRIBE", channel=channel):
                        await pubsub.subscribe(channel)
                        await pubsub.get_message(timeout=1.0)
                    await audit.append(
                        AuditEvent(
                            kind="access",
                            actor=principal.id,
                            channel=channel,
                            reason="subscribed via gateway",
                        )
                    )
                    print(f"  subscribed {channel} for {principal.id}")
                    await pubsub.aclose()  # type: ignore[no-untyped-call]

                print("2. gateway acts on the user's behalf")
                await subscribe_for(token, str(acme.channel("notify.user.42")))
                await subscribe_for(token, str(acme.channel("notify.user.43")))  # not in scope
                await subscribe_for(token, "tenant:globex:notify.user.42")  # other tenant
                for _ in range(3):  # burst of 2 at 5/s
                    await subscribe_for(token, str(acme.channel("notify.user.42")))

                print("3. the tenant's audit trail")
                day = dt.datetime.now(dt.timezone.utc).date()
                async with AsyncClient(as_user("admin", admin_pw)) as reader:
                    trail = AsyncAuditLog(reader, keys=audit_keys, tenant="acme")
                    for _, fields in await trail.entries(day):
                        print(
                            f"  #{fields['seq']} {fields['kind']:<17} {fields['outcome']:<7}"
                            f" {fields['actor']} {fields['channel']}"
                        )
                    report = await trail.verify(day)
                    print(f"  chain intact: {report.ok} ({report.entries} entries)")


if __name__ == "__main__":
    asyncio.run(main())
