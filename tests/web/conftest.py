"""WHAT: fixtures of the web tests: Debian's Chromium for Playwright, the app under a live uvicorn
     server with a runner whose engine talks to a slow scripted fake LLM, and a page on that server.
WHY: the browser tests watch whole negotiations over real HTTP and a real EventSource; the fake LLM
     writes word by word with a pause, so drafts are on screen long enough to be seen.
HOW: `browser` launches /usr/bin/chromium per module (Playwright's own download is unreachable) and
     replaces pytest-playwright's; the runner is the API tests' AsyncioRunner; Django's async-safety
     check is off only inside browser tests (Playwright's sync API keeps a loop in the test's thread).
"""

from __future__ import annotations

import asyncio
import re
import shutil
import time
from collections.abc import AsyncIterator

import pytest
from playwright.sync_api import sync_playwright

from llm.types import ChatRequest, Chunk, Usage
from negotiations.engine.asyncio_runner import AsyncioRunner
from negotiations.engine.engine import NegotiationEngine
from negotiations.engine.recovery import orphans_sweep_reset
from negotiations.engine.runners import set_runner
from tests.support.fake_provider import FakeProvider
from tests.support.llm_fixtures import live_gateway_server  # noqa: F401 - the session's uvicorn server

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
WORD_PAUSE = 0.04


class SlowFakeProvider(FakeProvider):
    """The scripted fake LLM, one word at a time with a pause between words."""

    async def stream(self, request: ChatRequest) -> AsyncIterator[Chunk]:
        text = await self._reply(request)
        for piece in re.findall(r"\S+\s*|\s+", text):
            await asyncio.sleep(WORD_PAUSE)
            yield Chunk(delta=piece)
        yield Chunk(finish_reason="stop", usage=Usage(1, 1, 2))


NARRATION = "Well, let me see what I can do for you on this fine piece today."


@pytest.fixture(scope="module")
def browser():
    """Headless Chromium for one test module. Not pytest-playwright's session-wide one: Playwright's sync
    API keeps an event loop in this thread while it runs, which later modules' asyncio tests cannot share."""
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser):
    context = browser.new_context()
    yield context.new_page()
    context.close()


@pytest.fixture(autouse=True)
def _web_defaults(settings):
    settings.NEGOTIATION_RESUME_ORPHANS = False
    orphans_sweep_reset()
    yield
    orphans_sweep_reset()


@pytest.fixture
def browser_env(monkeypatch):
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


@pytest.fixture
def slow_llm() -> SlowFakeProvider:
    return SlowFakeProvider(respond=lambda request: NARRATION)


@pytest.fixture
def runner(slow_llm: SlowFakeProvider):
    runner = AsyncioRunner(engine_factory=lambda: NegotiationEngine(provider_resolver=slow_llm.resolve))
    previous = set_runner(runner)
    yield runner
    for negotiation_id in runner.active_ids():
        runner.cancel(negotiation_id)
    deadline = time.monotonic() + 5
    while runner.active_ids() and time.monotonic() < deadline:
        time.sleep(0.01)
    set_runner(previous)


@pytest.fixture
def server(browser_env, live_gateway_server, transactional_db, runner):
    """The app under uvicorn (session-wide), with this test's runner."""
    return live_gateway_server
