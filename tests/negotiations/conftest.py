"""WHAT: fixtures of the negotiation tests: a scripted FakeProvider, and the closing of the background
     threads' database connections at the end of the session.
WHY: every engine test needs the same setup; the helpers (factories, `play`, log filters) live in
     tests/support/negotiations.py so that tests import them from a plain module, not from a conftest.
HOW: async tests use `@pytest.mark.django_db(transaction=True)`; sync services are called through
     `sync_to_async`, as the engine itself does.
"""

from __future__ import annotations

import pytest
from asgiref.sync import SyncToAsync
from django.db import connections

from negotiations.live.reads import reader_pool_close
from tests.support.fake_provider import FakeProvider


@pytest.fixture(scope="session", autouse=True)
def _background_connections_closed(django_db_setup, django_db_blocker):
    """Close the connections of the threads the negotiations code reads and writes from (the stream's
    reader threads, asgiref's shared sync thread) before the test database is dropped: PostgreSQL
    refuses to drop a database that still has sessions."""
    yield
    reader_pool_close()
    with django_db_blocker.unblock():
        SyncToAsync.single_thread_executor.submit(connections.close_all).result()


@pytest.fixture
def scripted_llm() -> FakeProvider:
    return FakeProvider()
