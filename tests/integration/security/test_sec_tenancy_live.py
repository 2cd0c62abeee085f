"""Tenant A can never subscribe to, publish on or read tenant B's channels and streams."""

from __future__ import annotations

import pytest

from redis_fintech_sdk.connection import AsyncClient
from redis_fintech_sdk.errors import AuthorizationError
from redis_fintech_sdk.security import (
    AsyncAclAdmin,
    Authorizer,
    RolePolicy,
    Tenant,
    TenantPolicy,
    market_data_reader_role,
    trade_processor_role,
)
from redis_fintech_sdk.settings import Secret
from redis_fintech_sdk.testing import RedisServer

from ._sec_support import admin_config, config_for, new_password, subscribe_once, unique

pytestmark = pytest.mark.anyio


async def test_tenants_are_isolated_by_the_server_and_by_the_sdk(
    redis_acl_server: RedisServer, log_secrets: set[str]
) -> None:
    a, b = Tenant(unique("a")), Tenant(unique("b"))
    pw_a, pw_b = new_password(), new_password()
    log_secrets.update((pw_a, pw_b))
    reader_a = a.acl_user(market_data_reader_role(), Secret(pw_a))
    proc_b = b.acl_user(trade_processor_role(), Secret(pw_b))
    async with AsyncClient(admin_config(redis_acl_server)) as admin:
        acl = AsyncAclAdmin(admin)
        await acl.provision([reader_a, proc_b])
        await admin.execute("XADD", a.key("md:ticks"), "*", "px", "1")
        await admin.execute("XADD", b.key("md:ticks"), "*", "px", "1")
        await admin.execute("XADD", b.key("trade:exec"), "*", "px", "1")
        try:
            async with (
                AsyncClient(config_for(redis_acl_server, reader_a.name, pw_a)) as ca,
                AsyncClient(config_for(redis_acl_server, proc_b.name, pw_b)) as cb,
            ):
                own = await subscribe_once(ca, str(a.channel("market.price.AAPL")))
                await own.aclose()
                own_pattern = await subscribe_once(ca, a.pattern("market.*").pattern, pattern=True)
                await own_pattern.aclose()
                assert await ca.execute("XRANGE", a.key("md:ticks"), "-", "+")
                # Server-side refusals, surfaced as AuthorizationError naming the channel.
                for channel in (str(b.channel("market.price.AAPL")), "market.price.AAPL"):
                    with pytest.raises(AuthorizationError) as excinfo:
                        await subscribe_once(ca, channel)
                    assert excinfo.value.channel == channel
                for pattern in (b.pattern("market.*").pattern, "*", "tenant:*"):
                    with pytest.raises(AuthorizationError):
                        await subscribe_once(ca, pattern, pattern=True)
                with pytest.raises(AuthorizationError):
                    await ca.execute("XRANGE", b.key("md:ticks"), "-", "+")
                with pytest.raises(AuthorizationError):
                    await ca.execute("GET", b.key("md:AAPL"))
                # And the other way round, for stream consumers.
                await cb.execute("XGROUP", "CREATE", b.key("trade:exec"), "g", "0")
                got = await cb.execute(
                    "XREADGROUP",
                    "GROUP",
                    "g",
                    "c",
                    "COUNT",
                    "1",
                    "STREAMS",
                    b.key("trade:exec"),
                    ">",
                )
                assert got
                with pytest.raises(AuthorizationError):
                    await cb.execute("XRANGE", a.key("md:ticks"), "-", "+")
                with pytest.raises(AuthorizationError):
                    await cb.execute("PUBLISH", str(a.channel("trade.exec.X")), "spoof")
        finally:
            await acl.remove([reader_a, proc_b])

    # The SDK refuses the same before asking the server.
    authz = Authorizer(
        [TenantPolicy(), RolePolicy([market_data_reader_role(), trade_processor_role()])]
    )
    alice = a.principal("alice", "market-data-reader")
    authz.check_subscribe(str(a.channel("market.price.AAPL")), alice)
    with pytest.raises(AuthorizationError):
        authz.check_subscribe(str(b.channel("market.price.AAPL")), alice)
    with pytest.raises(AuthorizationError):
        authz.check_read(b.key("md:ticks"), alice)
    bob = b.principal("bob", "trade-processor")
    authz.check_consume(b.key("trade:exec"), bob)
    with pytest.raises(AuthorizationError):
        authz.check_consume(a.key("trade:exec"), bob)
