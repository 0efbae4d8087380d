"""Fixtures of the llm tests: the fake-backed default provider and the live ASGI gateway."""

from tests.support.llm_fixtures import fake_upstream, live_gateway, live_gateway_server  # noqa: F401
