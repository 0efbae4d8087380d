"""Fixtures of the project-level tests: the live ASGI server."""
from tests.support.llm_fixtures import live_gateway_server  # noqa: F401
