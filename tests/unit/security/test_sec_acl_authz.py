"""ACL rendering, role grants, channel policies, tenancy and residency (no server)."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from redis_fintech_sdk.channels import RoutingTable, glob_match
from redis_fintech_sdk.channels._routing_model import MessageView
from redis_fintech_sdk.codec import Keyring, keyring_to_json
from redis_fintech_sdk.errors import AuthorizationError, ConfigurationError, PolicyError
from redis_fintech_sdk.security import (
    ROLE_FACTORIES,
    AclUser,
    AllowAll,
    AuditEvent,
    Authorizer,
    ChannelGrant,
    HmacKeySet,
    KeyGrant,
    Principal,
    ResidencyPolicy,
    Role,
    RolePolicy,
    Tenant,
    TenantKeyrings,
    TenantPolicy,
    TokenError,
    TokenIssuer,
    TokenPolicy,
    TokenVerifier,
    grants_for_role,
    market_data_reader_role,
    render_acl_file,
    trade_processor_role,
)
from redis_fintech_sdk.security._roles import sample_name
from redis_fintech_sdk.settings import Secret


def test_user_rules_start_from_nothing_and_hash_the_password() -> None:
    user = AclUser(name="md", role=market_data_reader_role(), passwords=(Secret("s3cret-pw"),))
    rules = user.rules()
    assert rules[:3] == ["reset", "resetchannels", "on"]
    assert rules[3] == "#" + hashlib.sha256(b"s3cret-pw").hexdigest()
    assert "-@all" in rules
    assert "-@dangerous" in rules
    assert "%R~md:*" in rules
    assert "&market.*" in rules
    assert "s3cret-pw" not in user.acl_line()
    assert "s3cret-pw" not in repr(user)


def test_tenant_user_is_confined_to_its_namespace() -> None:
    user = Tenant("acme").acl_user(market_data_reader_role(), Secret("pw-acme-1"))
    assert user.name == "market-data-reader@acme"
    rules = user.rules()
    assert "%R~tenant:acme:md:*" in rules
    assert "&tenant:acme:market.*" in rules
    assert not any(r in ("~*", "&*") for r in rules)
    must, must_not = user.checks()
    assert ["SUBSCRIBE", "tenant:acme:market.sample"] in must
    assert all(
        arg.startswith("tenant:acme:") or not arg.startswith("tenant:")
        for line in must + must_not
        for arg in line
    )


def test_acl_file_has_default_off_and_rejects_duplicates() -> None:
    pw = (Secret("pw-123456"),)
    users = [AclUser(name=n, role=f(), passwords=pw) for n, f in ROLE_FACTORIES.items()]
    text = render_acl_file(users)
    lines = text.splitlines()
    assert lines[0].startswith("user default off")
    assert all(line.startswith("user ") for line in lines)
    assert "pw-123456" not in text
    with pytest.raises(ConfigurationError):
        render_acl_file([users[0], users[0]])


@pytest.mark.parametrize(
    "kwargs",
    [
        {"name": "bad name"},
        {"name": "x", "commands": ("FLUSH ALL",)},
        {"name": "x", "channels": ("a b",)},
        {"name": "x", "must": ((),)},
    ],
)
def test_role_validation(kwargs: dict[str, object]) -> None:
    with pytest.raises(ConfigurationError):
        Role(**kwargs)  # type: ignore[arg-type]


def test_user_validation() -> None:
    role = market_data_reader_role()
    with pytest.raises(ConfigurationError):
        AclUser(name="nopass", role=role)
    with pytest.raises(ConfigurationError):
        AclUser(name="default", role=role, passwords=(Secret("x"),))
    with pytest.raises(ConfigurationError):
        AclUser(name="u", role=role, password_hashes=("XYZ",))
    with pytest.raises(ConfigurationError):
        KeyGrant("md:*", "x")  # type: ignore[arg-type]


@given(st.from_regex(r"[a-z]{1,5}(\.[a-z*?]{1,4}){0,3}(\.\*)?", fullmatch=True))
def test_sample_name_matches_its_pattern(pattern: str) -> None:
    assert glob_match(pattern, sample_name(pattern))


def test_role_grants_mirror_the_acl() -> None:
    grants = grants_for_role(market_data_reader_role())
    actions = {a for g in grants for a in g.actions}
    assert actions == {"subscribe", "read"}
    tp = grants_for_role(trade_processor_role())
    assert any(g.allows("consume", "trade:exec") for g in tp)
    assert any(g.allows("publish", "trade.exec.X") for g in tp)
    assert not any(g.allows("subscribe", "trade.exec.X") for g in tp)


def test_authorizer_runs_every_policy_and_audits_refusals() -> None:
    denied: list[AuditEvent] = []
    authz = Authorizer(
        [TenantPolicy(), RolePolicy([market_data_reader_role()])], on_denied=denied.append
    )
    acme = Tenant("acme").principal("alice", "market-data-reader")
    authz.check_subscribe("tenant:acme:market.price.AAPL", acme)
    authz.check_subscribe("tenant:acme:market.*", acme)
    with pytest.raises(AuthorizationError) as excinfo:
        authz.check_subscribe("tenant:globex:market.price.AAPL", acme)
    assert excinfo.value.channel == "tenant:globex:market.price.AAPL"
    with pytest.raises(AuthorizationError):
        authz.check_subscribe("*", acme)  # would match every tenant
    with pytest.raises(AuthorizationError):
        authz.check_publish("tenant:acme:market.price.AAPL", acme)  # reader cannot publish
    with pytest.raises(AuthorizationError):
        authz.check_consume("tenant:acme:trade:exec", acme)
    stats = authz.statistics()
    assert (stats.allowed, stats.denied) == (2, 4)
    assert [e.kind for e in denied] == ["permission_denied"] * 4
    assert denied[0].actor == "alice"
    assert denied[0].channel == "tenant:globex:market.price.AAPL"


def test_platform_principal_stays_out_of_tenant_namespaces() -> None:
    policy = TenantPolicy()
    svc = Principal(id="svc")
    policy.check_publish("market.price.AAPL", svc)
    with pytest.raises(AuthorizationError):
        policy.check_publish("tenant:acme:market.price.AAPL", svc)
    TenantPolicy(platform_access=True).check_publish("tenant:acme:market.price.AAPL", svc)


def test_token_policy_on_behalf_of_a_gateway_user() -> None:
    keys = HmacKeySet.generate()
    issuer, verifier = TokenIssuer(hmac_keys=keys), TokenVerifier(hmac_keys=keys)
    token = issuer.issue("bob", [ChannelGrant.of("notify.user.bob", ["subscribe"])], tenant="t1")
    principal = Principal.from_claims(verifier.verify(token))
    denied: list[AuditEvent] = []
    authz = Authorizer([TenantPolicy(), TokenPolicy()], on_denied=denied.append)
    authz.check_subscribe("tenant:t1:notify.user.bob", principal)
    with pytest.raises(TokenError):
        authz.check_subscribe("tenant:t1:notify.user.eve", principal)
    with pytest.raises(TokenError):
        TokenPolicy().check_subscribe("tenant:t1:notify.user.bob", Principal(id="anon"))
    assert denied[0].kind == "token_refused"
    AllowAll().check_publish("anything.at.all")


def test_tenant_keyrings_are_separate(tmp_path: object, monkeypatch: pytest.MonkeyPatch) -> None:
    from pathlib import Path

    directory = Path(str(tmp_path))
    (directory / "acme.json").write_text(keyring_to_json(Keyring.generate(7)))
    monkeypatch.setenv("RFSDK_KEYSET_GLOBEX_EU", keyring_to_json(Keyring.generate(9)))
    rings = TenantKeyrings(directory=directory)
    assert rings.get("acme").primary_key_id == 7
    assert rings.get("globex-eu").primary_key_id == 9
    assert rings.get("acme") is rings.get("acme")
    with pytest.raises(ConfigurationError):
        rings.get("initech")
    with pytest.raises(ConfigurationError):
        rings.get("../etc")


def test_tenant_helpers() -> None:
    acme = Tenant("acme")
    assert str(acme.channel("market.price.AAPL")) == "tenant:acme:market.price.AAPL"
    assert acme.pattern("market.*").pattern == "tenant:acme:market.*"
    assert acme.key("trade:exec") == "tenant:acme:trade:exec"
    assert acme.owns("tenant:acme:x.y")
    assert not acme.owns("tenant:acmex:x.y")
    with pytest.raises(ConfigurationError):
        Tenant("a:b")


RESIDENCY_TABLE = {
    "deployments": {"eu-main": {"region": "eu-west-1"}, "us-main": {"region": "us-east-1"}},
    "default_deployment": "us-main",
    "residency": {"pii-eu": ["eu-west-1"]},
    "rules": [
        {
            "name": "eu-pii",
            "match": {"classification": "pii-eu"},
            "deployment": "eu-main",
            "channels": ["notify.user.{user}"],
        },
        {
            "name": "prices",
            "match": {"type": "market.price"},
            "channels": ["market.price.{symbol}"],
        },
    ],
}


def test_residency_routing_table_refuses_cross_region_rules() -> None:
    table = RoutingTable.from_dict(RESIDENCY_TABLE)
    ok = table.route(MessageView(type="notify", classification="pii-eu", headers={"user": "7"}))
    assert [t.deployment for t in ok.targets] == ["eu-main"]
    bad = {**RESIDENCY_TABLE, "rules": [{**RESIDENCY_TABLE["rules"][0], "deployment": "us-main"}]}  # type: ignore[index]
    with pytest.raises(ConfigurationError) as excinfo:
        RoutingTable.from_dict(bad)
    assert "pii-eu" in str(excinfo.value)


def test_residency_routing_refuses_a_region_bound_message_on_a_catch_all_route() -> None:
    table = RoutingTable.from_dict(
        {**RESIDENCY_TABLE, "rules": [{"name": "all", "channels": ["audit.all"]}]}
    )
    with pytest.raises(PolicyError):
        table.route(MessageView(type="notify", classification="pii-eu"))
    assert table.route(MessageView(type="notify", classification="public")).matched


def test_residency_policy_for_direct_publishing() -> None:
    policy = ResidencyPolicy({"pii-eu": ["eu-west-1"]}, {"eu": "eu-west-1", "us": "us-east-1"})
    policy.check("pii-eu", "eu")
    policy.check("public", "us")
    policy.check(None, "us")
    with pytest.raises(PolicyError):
        policy.check("pii-eu", "us")
    with pytest.raises(PolicyError):
        policy.check("pii-eu", "unknown")
