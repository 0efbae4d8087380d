"""The `Provider` protocol is the whole contract: every real provider class and the test fake satisfy it
(members present, of the declared kinds), the registry hands out `Provider`s, the fake needs no
configuration object, `base_url` never shows credentials, and the callers (views, health, negotiations)
read nothing of a provider that the protocol does not declare."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path
from typing import get_type_hints

import pytest

from llm import registry
from llm.protocol import Provider
from llm.providers import PROVIDER_CLASSES
from tests.support.fake_provider import FakeProvider
from tests.support.llm import fake_provider_settings

ROOT = Path(__file__).resolve().parents[2]
PROPERTIES = sorted(n for n, v in vars(Provider).items() if isinstance(v, property))
METHODS = sorted(n for n, v in vars(Provider).items() if not n.startswith("_") and inspect.isfunction(v))
ASYNC_METHODS = {"complete", "list_models", "health"}
BOOL_PROPERTIES = {"can_stream", "needs_key", "key_is_set", "enabled"}
SET_PROPERTIES = {"response_formats"}


def real_provider(cls):
    return cls(fake_provider_settings("http://127.0.0.1:9/v1", kind=cls.kind))


PROVIDERS = [pytest.param(lambda cls=cls: real_provider(cls), id=kind) for kind, cls in PROVIDER_CLASSES.items()]
PROVIDERS.append(pytest.param(FakeProvider, id="fake"))


def test_the_protocol_declares_what_callers_read():
    assert set(PROPERTIES) >= {"name", "kind", "can_stream", "needs_key", "key_is_set", "enabled", "default_model"}
    assert "base_url" in PROPERTIES
    assert set(METHODS) == ASYNC_METHODS | {"stream"}


@pytest.mark.parametrize("make", PROVIDERS)
def test_each_provider_satisfies_the_protocol(make):
    provider = make()
    assert isinstance(provider, Provider)
    for member in PROPERTIES:
        value = getattr(provider, member)
        kind = bool if member in BOOL_PROPERTIES else frozenset if member in SET_PROPERTIES else str
        assert isinstance(value, kind), member
    for member in METHODS:
        assert callable(getattr(provider, member)), member
    for member in ASYNC_METHODS:
        assert inspect.iscoroutinefunction(getattr(provider, member)), member


def test_a_provider_missing_a_member_is_not_a_provider():
    provider = FakeProvider()

    class Without:
        def __getattr__(self, name):
            if name == "default_model":
                raise AttributeError(name)
            return getattr(provider, name)

    assert not isinstance(Without(), Provider)


def test_the_fake_needs_no_configuration_object():
    fake = FakeProvider(default_model="scripted")
    assert not hasattr(fake, "config")
    assert fake.default_model == "scripted" and fake.enabled and not fake.needs_key


def test_base_url_shows_no_credentials():
    settings = fake_provider_settings("http://user:secret@127.0.0.1:9/v1?key=k-123#frag", kind="openai_compatible")
    provider = registry.build_provider(settings)
    assert provider.base_url == "http://127.0.0.1:9/v1"


def test_registry_lookups_are_typed_to_the_protocol():
    assert get_type_hints(registry.get_provider)["return"] is Provider
    assert get_type_hints(registry.aget_provider)["return"] is Provider
    assert get_type_hints(registry.alist_providers)["return"] == list[Provider]
    assert get_type_hints(registry.build_provider)["return"] is Provider


# Modules that hold a `Provider` they did not build: they may use the protocol's members (also through
# `getattr(provider, "<member>", default)`), nothing else.
CALLERS = ["llm/gateway", "health", "negotiations"]
ALLOWED = set(PROPERTIES) | set(METHODS)


def attributes_read_of_providers(path: Path) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "provider":
            if node.attr not in ALLOWED:
                found.append((node.lineno, f"provider.{node.attr}"))
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "getattr" and node.args:
            target = node.args[0]
            name = node.args[1] if len(node.args) > 1 else None
            member = name.value if isinstance(name, ast.Constant) else None
            if isinstance(target, ast.Name) and target.id == "provider" and member not in ALLOWED:
                found.append((node.lineno, f"getattr(provider, {member or '...'!r})"))
    return found


def test_callers_read_providers_through_the_protocol_only():
    problems = []
    for folder in CALLERS:
        for path in sorted((ROOT / folder).rglob("*.py")):
            if "migrations" in path.parts:
                continue
            problems += [f"{path.relative_to(ROOT)}:{line} {attr}" for line, attr in attributes_read_of_providers(path)]
    assert not problems, "read past the Provider protocol:\n" + "\n".join(problems)
