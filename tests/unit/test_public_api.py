"""The flat public namespace: __all__ is sorted, complete and documented (httpx style)."""

from __future__ import annotations

import importlib
import inspect

import pytest

import redis_fintech_sdk

PUBLIC_PACKAGES = [
    "redis_fintech_sdk",
    "redis_fintech_sdk.connection",
    "redis_fintech_sdk.hooks",
    "redis_fintech_sdk.observability",
    "redis_fintech_sdk.ops",
    "redis_fintech_sdk.gateway",
    "redis_fintech_sdk.patterns",
    "redis_fintech_sdk.pubsub",
    "redis_fintech_sdk.streams",
    "redis_fintech_sdk.codec",
    "redis_fintech_sdk.channels",
    "redis_fintech_sdk.resilience",
    "redis_fintech_sdk.security",
    "redis_fintech_sdk.testing",
]


@pytest.mark.parametrize("name", PUBLIC_PACKAGES)
def test_all_is_sorted_and_resolvable(name: str) -> None:
    mod = importlib.import_module(name)
    exported = list(mod.__all__)
    assert exported == sorted(exported), "__all__ must be sorted (plain sorted())"
    assert len(set(exported)) == len(exported)
    for attr in exported:
        assert hasattr(mod, attr), f"{name}.{attr} is in __all__ but missing"


@pytest.mark.parametrize("name", PUBLIC_PACKAGES)
def test_public_names_have_docstrings(name: str) -> None:
    mod = importlib.import_module(name)
    missing = [
        attr
        for attr in mod.__all__
        if (inspect.isclass(obj := getattr(mod, attr)) or inspect.isfunction(obj))
        and not inspect.getdoc(obj)
    ]
    assert not missing, f"undocumented public names in {name}: {missing}"


def test_top_level_reexports_every_public_class_of_the_core() -> None:
    import redis_fintech_sdk.errors as errors_mod
    import redis_fintech_sdk.settings as settings_mod

    for mod in (errors_mod, settings_mod):
        for attr in mod.__all__:
            obj = getattr(mod, attr)
            if inspect.isclass(obj) and attr != "CredentialSource":
                assert attr in redis_fintech_sdk.__all__, f"{attr} not re-exported"


def test_version() -> None:
    assert redis_fintech_sdk.__version__[0].isdigit()
