"""WHAT: fixtures of the end-to-end tests: the real local model server (SmolLM2-135M-Instruct on
llama-cpp-python's OpenAI-compatible server) for the whole session, and the default provider pointed at it.
WHY: the unit and integration tests prove the gateway against our own fake; these prove it against a real
     model server, the same llama.cpp engine LM Studio runs (see DESIGN "Tests").
HOW: `local_model` starts `llm.local.server.LocalModelServer` on a free loopback port and stops it (its
     whole process group) at the end of the session; its output goes to a temporary log that a failure
     message names. `local_provider` rewrites settings.LLM_PROVIDERS["lm_studio"] to call it, with
     timeouts for a real CPU model, and syncs the `ProviderConfig` rows as `migrate` does. Nothing is
     skipped when the server is not installed: the tests fail and name `make local-llm`.
"""

from __future__ import annotations

import pytest

from health.probes import llm_probe_cache_clear
from llm import registry
from llm.local.server import LocalModelServer, LocalModelServerError, free_port
from llm.services import provider_config_sync_from_settings
from tests.support.llm_fixtures import live_gateway_server  # noqa: F401 - session fixture used here

# A real model on a shared 2-core machine: generous, so only a hang fails (see DESIGN: no timed tests).
E2E_PROVIDER_SETTINGS = {
    "timeout": 120.0,
    "connect_timeout": 5.0,
    "first_token_timeout": 60.0,
    "idle_timeout": 30.0,
    "max_retries": 1,
    "retry_base_delay": 0.5,
}


@pytest.fixture(scope="session")
def local_model(tmp_path_factory: pytest.TempPathFactory):
    """The real model server, started once per session on a free loopback port."""
    server = LocalModelServer(port=free_port(), log_path=tmp_path_factory.mktemp("local-llm") / "server.log")
    try:
        server.start().wait_ready(timeout=120)
    except LocalModelServerError as exc:
        server.stop()
        pytest.fail(f"the local model server did not start: {exc}", pytrace=False)
    yield server
    server.stop()


@pytest.fixture
def local_provider(local_model: LocalModelServer, settings, transactional_db) -> LocalModelServer:
    """The default provider `lm_studio`, pointed at the real model server, as `make run` does."""
    providers = {name: dict(values) for name, values in settings.LLM_PROVIDERS.items()}
    providers["lm_studio"].update(
        base_url=local_model.base_url, default_model=local_model.alias, enabled=True, **E2E_PROVIDER_SETTINGS
    )
    settings.LLM_PROVIDERS = providers
    settings.LLM_PROVIDER = "lm_studio"
    provider_config_sync_from_settings()
    registry.invalidate()
    llm_probe_cache_clear()
    yield local_model
    registry.invalidate()
    llm_probe_cache_clear()


@pytest.fixture
def live_local_gateway(live_gateway_server, local_provider):
    """The app under a real ASGI server (uvicorn), its default provider the real model."""
    return live_gateway_server
