"""WHAT: fixtures shared by the whole test suite.
WHY: every app's tests need the same fakes (the fake OpenAI-compatible server, a scripted provider).
HOW: session-scoped servers on 127.0.0.1 at free ports; per-test state is reset by the fixtures.
"""

import os
from pathlib import Path

import pytest

from tests.support.fake_openai import FakeOpenAIServer

_TEST_DB_DIR = Path(__file__).resolve().parent.parent / ".test-dbs"


def pytest_configure(config: pytest.Config) -> None:
    _TEST_DB_DIR.mkdir(exist_ok=True)


def pytest_unconfigure(config: pytest.Config) -> None:
    # Django removes the database file itself; SQLite's WAL side files are ours to clean.
    for leftover in _TEST_DB_DIR.glob(f"test-{os.getpid()}.sqlite3*"):
        leftover.unlink(missing_ok=True)


# --- Fake OpenAI-compatible server (tests/support/fake_openai.py) -----------------------------------
@pytest.fixture(scope="session")
def fake_openai_server():
    """One fake server for the whole session, on 127.0.0.1 at a free port."""
    with FakeOpenAIServer() as server:
        yield server


@pytest.fixture
def fake_openai(fake_openai_server: FakeOpenAIServer) -> FakeOpenAIServer:
    """The session's fake server, with records, counters and overrides reset for this test."""
    fake_openai_server.reset()
    return fake_openai_server


# --- Providers pointed at the fake server ---------------------------------------------------------
@pytest.fixture(autouse=True)
def _fresh_llm_registry():
    """Each test starts from the database's provider rows, not a previous test's cached ones."""
    from llm import registry

    registry.invalidate()
    yield
    registry.invalidate()


@pytest.fixture
def make_fake_provider(fake_openai):
    """Factory: `make_fake_provider(kind="lm_studio", max_retries=0, ...)` -> a provider on the fake server."""
    from llm.registry import build_provider
    from tests.support.llm import fake_provider_settings

    def make(**overrides):
        return build_provider(fake_provider_settings(fake_openai.base_url, **overrides))

    return make


@pytest.fixture
def fake_openai_provider(make_fake_provider):
    """An OpenAI-compatible provider named "fake" on the fake server (no database needed)."""
    return make_fake_provider()


@pytest.fixture
def fake_default_provider(fake_openai, db):
    """Points the default provider's `ProviderConfig` row at the fake server; yields the server.

    Requests through the registry (`aget_provider(None)`, the HTTP API) then reach the fake, with
    default model "fake-model", retry base delay 0.01 s and short timeouts.
    """
    from django.conf import settings

    from llm import registry
    from llm.models import ProviderConfig
    from tests.support.llm import fake_provider_row_values

    ProviderConfig.objects.update_or_create(
        name=settings.LLM_PROVIDER, defaults=fake_provider_row_values(fake_openai.base_url, kind="lm_studio")
    )
    registry.invalidate()
    yield fake_openai
    registry.invalidate()


@pytest.fixture(scope="module")
def schema(django_db_blocker):
    """The OpenAPI schema as served at /api/schema/, parsed (tests/test_schema.py and the negotiations'
    schema tests read it)."""
    import yaml
    from django.test import Client

    with django_db_blocker.unblock():
        response = Client().get("/api/schema/")
    assert response.status_code == 200
    return yaml.safe_load(response.content)
