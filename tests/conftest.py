"""WHAT: fixtures shared by the whole test suite.
WHY: every app's tests need the same fakes (the fake OpenAI-compatible server, a scripted provider).
HOW: session-scoped servers on 127.0.0.1 at free ports; per-test state is reset by the fixtures.
"""
import os
from pathlib import Path

import pytest

_TEST_DB_DIR = Path(__file__).resolve().parent.parent / ".test-dbs"


def pytest_configure(config: pytest.Config) -> None:
    _TEST_DB_DIR.mkdir(exist_ok=True)


def pytest_unconfigure(config: pytest.Config) -> None:
    # Django removes the database file itself; SQLite's WAL side files are ours to clean.
    for leftover in _TEST_DB_DIR.glob(f"test-{os.getpid()}.sqlite3*"):
        leftover.unlink(missing_ok=True)
