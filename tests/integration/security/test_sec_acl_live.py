"""Generated ACL users against real servers: DRYRUN proofs and live NOPERM → AuthorizationError."""

from __future__ import annotations

import anyio
import pytest

from redis_fintech_sdk.connection import AsyncClient
from redis_fintech_sdk.errors import AuthenticationError, AuthorizationError, ConfigurationError
from redis_fintech_sdk.security import (
    ROLE_FACTORIES,
    AclAdmin,
    AclUser,
    AsyncAclAdmin,
    KeyGrant,
    Role,
    market_data_reader_role,
    render_acl_file,
)
from redis_fintech_sdk.settings import Secret
from redis_fintech_sdk.testing import RedisBinary, RedisServer

from ._sec_support import admin_config, config_for, new_password, subscribe_once, unique

pytestmark = pytest.mark.anyio


async def test_every_generated_role_is_proven_by_dryrun(
    redis_acl_server: RedisServer, log_secrets: set[str]
) -> None:
    users: list[AclUser] = []
    for name, factory in ROLE_FACTORIES.items():
        pw = new_password()
        log_secrets.add(pw)
        users.append(AclUser(name=unique(name), role=factory(), passwords=(Secret(pw),)))
        if name != "admin":
            users.append(
                AclUser(
                    name=unique(name + "-t"), role=factory(), passwords=(Secret(pw),), tenant="t1"
                )
            )
    async with AsyncClient(admin_config(redis_acl_server)) as admin:
        acl = AsyncAclAdmin(admin)
        report = await acl.provision(users)
        try:
            assert report.ok
            assert report.checked > 150
            # The server stores exactly our hashes: no plaintext anywhere.
            listing = b" ".join(await admin.execute("ACL", "LIST"))
            assert all(pw.encode() not in listing for pw in log_secrets)
        finally:
            assert await acl.remove(users) == len(users)


async def test_dryrun_check_catches_a_role_broader_than_it_claims(
    redis_acl_server: RedisServer,
) -> None:
    sloppy = Role(
        name="sloppy-reader",
        commands=("get", "set", "subscribe"),
        keys=(KeyGrant("md:*"),),
        channels=("market.*",),
        must=(("GET", "md:x"),),
        must_not=(("SET", "md:x", "v"), ("GET", "orders:1")),
    )
    user = AclUser(name=unique("sloppy"), role=sloppy, passwords=(Secret(new_password()),))
    async with AsyncClient(admin_config(redis_acl_server)) as admin:
        acl = AsyncAclAdmin(admin)
        try:
            with pytest.raises(ConfigurationError) as excinfo:
                await acl.provision([user])
            report = await acl.check([user])
        finally:
            await acl.remove([user])
    assert [f.command for f in report.failures] == [("SET", "md:x", "v")]
    assert "SET md:x v should be denied but was allowed" in str(excinfo.value)


async def test_reader_gets_authorization_error_outside_its_role_and_works_inside(
    redis_acl_server: RedisServer, log_secrets: set[str]
) -> None:
    pw = new_password()
    log_secrets.add(pw)
    user = AclUser(
        name=unique("md-reader"), role=market_data_reader_role(), passwords=(Secret(pw),)
    )
    async with AsyncClient(admin_config(redis_acl_server)) as admin:
        await AsyncAclAdmin(admin).provision([user])
        await admin.execute("SET", "md:AAPL", "189.12")
        await admin.execute("XADD", "md:ticks", "*", "px", "1")
        await admin.execute("XADD", "trade:exec", "*", "px", "1")
        try:
            async with AsyncClient(config_for(redis_acl_server, user.name, pw)) as reader:
                # Channels: inside works end to end, outside is refused and named.
                inside = await subscribe_once(reader, "market.price.AAPL")
                try:
                    assert await admin.execute("PUBLISH", "market.price.AAPL", "tick") == 1
                    with anyio.fail_after(5):
                        while True:
                            msg = await inside.get_message(
                                ignore_subscribe_messages=True, timeout=1.0
                            )
                            if msg is not None:
                                break
                    assert msg["data"] == b"tick"
                finally:
                    await inside.aclose()
                patterned = await subscribe_once(reader, "market.*", pattern=True)
                await patterned.aclose()
                with pytest.raises(AuthorizationError) as chan_err:
                    await subscribe_once(reader, "trade.exec.XNAS")
                assert chan_err.value.channel == "trade.exec.XNAS"
                with pytest.raises(AuthorizationError):
                    await subscribe_once(reader, "market.price.*", pattern=True)  # not literal
                with (
                    pytest.raises(AuthorizationError) as pub_err,
                    reader.translate_errors("PUBLISH", channel="market.price.AAPL"),
                ):
                    await reader.redis.publish("market.price.AAPL", "spoof")
                assert pub_err.value.channel == "market.price.AAPL"
                # Keys.
                assert await reader.execute("GET", "md:AAPL") == b"189.12"
                with pytest.raises(AuthorizationError):
                    await reader.execute("SET", "md:AAPL", "1")
                with pytest.raises(AuthorizationError):
                    await reader.execute("GET", "orders:1")
                # Streams.
                assert len(await reader.execute("XRANGE", "md:ticks", "-", "+")) >= 1
                with pytest.raises(AuthorizationError):
                    await reader.execute("XADD", "md:ticks", "*", "px", "2")
                with (
                    pytest.raises(AuthorizationError) as key_err,
                    reader.translate_errors("XRANGE", key="trade:exec"),
                ):
                    await reader.redis.xrange("trade:exec")
                assert key_err.value.key == "trade:exec"
                with pytest.raises(AuthorizationError):
                    await reader.execute("FLUSHALL")
        finally:
            await AsyncAclAdmin(admin).remove([user])


async def test_changing_a_role_cuts_a_live_subscriber(
    redis_acl_server: RedisServer, log_secrets: set[str]
) -> None:
    pw = new_password()
    log_secrets.add(pw)
    name = unique("revoked")
    user = AclUser(name=name, role=market_data_reader_role(), passwords=(Secret(pw),))
    narrowed = AclUser(
        name=name, role=market_data_reader_role(channels=("fx.*",)), passwords=(Secret(pw),)
    )
    async with (
        AsyncClient(admin_config(redis_acl_server)) as admin,
        AsyncClient(config_for(redis_acl_server, name, pw)) as reader,
    ):
        acl = AsyncAclAdmin(admin)
        await acl.provision([user])
        try:
            sub = await subscribe_once(reader, "market.price.EUR")
            try:
                await acl.provision([narrowed])
                # Redis disconnects subscribers whose channel grants were revoked.
                assert await admin.execute("PUBLISH", "market.price.EUR", "x") == 0
            finally:
                await sub.aclose()
        finally:
            await acl.remove([name])


def test_rendered_acl_file_is_loadable_and_holds_no_plaintext(
    redis_binary: RedisBinary, tmp_path: object, log_secrets: set[str]
) -> None:
    pw = new_password()
    admin_pw = new_password()
    log_secrets.update((pw, admin_pw))
    reader = AclUser(name="md", role=market_data_reader_role(), passwords=(Secret(pw),))
    text = render_acl_file([reader], extra_lines=[f"user ops on >{admin_pw} ~* &* +@all"])
    assert pw not in text
    assert "user default off" in text
    with RedisServer(
        redis_binary, acl_users=text.strip().splitlines(), auth=("ops", admin_pw)
    ) as server:
        from redis_fintech_sdk.connection import Client

        with Client(config_for(server, "ops", admin_pw)) as ops:
            report = AclAdmin(ops).check([reader])
            assert report.ok, [f.describe() for f in report.failures]
        with Client(config_for(server, "md", pw)) as md:
            assert md.ping() > 0
            with pytest.raises(AuthorizationError):
                md.execute("SET", "md:x", "1")
        with (
            Client(config_for(server, "md", "wrong-password")) as bad,
            pytest.raises(AuthenticationError),
        ):
            bad.ping()
        # The default user is off: no anonymous access.
        with Client(host=server.host, port=server.port) as anon, pytest.raises(AuthenticationError):
            anon.ping()
