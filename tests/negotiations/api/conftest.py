"""WHAT: fixtures of the negotiations API tests: the app under a live uvicorn server, and a runner whose
     engine talks to a scripted fake LLM (helpers: tests/support/negotiation_api.py).
WHY: the Done-when of the API is about what real clients see over real HTTP (headers, statuses, the
     exact bytes of the stream), so most tests go through a real ASGI server.
HOW: tests are transactional (the server and the stream's reader pool use their own connections). The
     runner is an AsyncioRunner on the server's loop (submitted from the sync views' worker threads),
     so `POST .../start` really launches the engine. The orphan sweep is off unless a test turns it on.
"""

from __future__ import annotations

import time

import pytest

from negotiations.engine.asyncio_runner import AsyncioRunner
from negotiations.engine.engine import NegotiationEngine
from negotiations.engine.recovery import orphans_sweep_reset
from negotiations.engine.runners import set_runner
from tests.support.fake_provider import FakeProvider
from tests.support.llm_fixtures import live_gateway_server  # noqa: F401 - the session's uvicorn server
from tests.support.negotiation_api import scripted_llm


@pytest.fixture(autouse=True)
def _no_orphan_sweep(settings):
    settings.NEGOTIATION_RESUME_ORPHANS = False
    orphans_sweep_reset()
    yield
    orphans_sweep_reset()


@pytest.fixture
def api_llm() -> FakeProvider:
    return scripted_llm()


@pytest.fixture
def runner(api_llm: FakeProvider):
    """The process-wide runner for this test: the real AsyncioRunner, engine on the scripted LLM."""
    runner = AsyncioRunner(engine_factory=lambda: NegotiationEngine(provider_resolver=api_llm.resolve))
    previous = set_runner(runner)
    yield runner
    for negotiation_id in runner.active_ids():
        runner.cancel(negotiation_id)
    deadline = time.monotonic() + 5
    while runner.active_ids() and time.monotonic() < deadline:
        time.sleep(0.01)
    set_runner(previous)


@pytest.fixture
def server(live_gateway_server, transactional_db, runner):
    """The app under uvicorn (session-wide), with this test's runner."""
    return live_gateway_server
