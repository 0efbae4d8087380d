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
