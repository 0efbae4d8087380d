"""WHAT: fixtures for the HTTP API tests: the default provider's row pointed at the fake OpenAI server
(committed, with short timeouts) and the app served over ASGI by uvicorn.
WHY: gateway and health tests go through the real registry, provider and HTTP client, so what they
     prove holds for a real LM Studio; only the server at the other end is fake. The live server runs
     in another thread with its own database connection, so the row must be committed (transactional
     tests), unlike tests/conftest.py's `fake_default_provider`.
HOW: `fake_upstream` writes the row (values from tests/support/llm.py, with 1 s first-token and idle
     timeouts and one fast retry); the registry re-reads it on save. `live_gateway` is the ASGI app
     under uvicorn on a free port (tests/support/asgi_server.py). Import these into an app's conftest.py.
"""

from __future__ import annotations

import pytest
from django.conf import settings

from health.probes import llm_probe_cache_clear
from llm import registry
from llm.models import ProviderConfig
from tests.support.asgi_server import LiveASGIServer
from tests.support.fake_openai import FakeOpenAIServer
from tests.support.llm import fake_provider_row_values

__all__ = ["fake_upstream", "live_gateway", "live_gateway_server", "point_default_provider_at"]

GATEWAY_TEST_TIMEOUTS = {"timeout": 3.0, "first_token_timeout": 1.0, "idle_timeout": 1.0, "max_retries": 1}


def point_default_provider_at(base_url: str, **overrides) -> None:
    """Make the default provider (an LM Studio row) talk to `base_url`; applies on the next request."""
    ProviderConfig.objects.update_or_create(
        name=settings.LLM_PROVIDER,
        defaults=fake_provider_row_values(base_url, kind="lm_studio", **{**GATEWAY_TEST_TIMEOUTS, **overrides}),
    )
    registry.invalidate()
    llm_probe_cache_clear()


@pytest.fixture
def fake_upstream(fake_openai: FakeOpenAIServer, transactional_db) -> FakeOpenAIServer:
    """The (reset) fake server, serving the default provider; yields the server."""
    point_default_provider_at(fake_openai.base_url)
    yield fake_openai
    registry.invalidate()
    llm_probe_cache_clear()


@pytest.fixture(scope="session")
def live_gateway_server():
    with LiveASGIServer() as server:
        yield server


@pytest.fixture
def live_gateway(live_gateway_server: LiveASGIServer, fake_upstream: FakeOpenAIServer) -> LiveASGIServer:
    """The app under uvicorn, its default provider served by the fake server."""
    return live_gateway_server
