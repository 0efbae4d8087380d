"""The stream's reader threads: reads run there and keep their connection between reads, but a thread
idle for a while (or the pool being closed) closes its database connection and ends, so a quiet server
holds no connection open (PostgreSQL could not even drop its test database otherwise)."""

from __future__ import annotations

import threading
import time

import pytest
from django.db import connections

from negotiations.live.reads import ReaderPool, db_read, reader_pool_close
from negotiations.models import Listing

pytestmark = pytest.mark.django_db(transaction=True)


def wrapper_after_a_read() -> object:
    """Runs in a reader thread: reads, and returns that thread's connection wrapper."""
    Listing.objects.exists()
    wrapper = connections["default"]  # this thread's own (the `connection` proxy looks up the caller's)
    assert wrapper.connection is not None
    return wrapper


def wait_until(predicate, seconds: float = 5.0) -> bool:
    deadline = time.monotonic() + seconds
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def test_an_idle_reader_thread_closes_its_connection_and_ends():
    pool = ReaderPool(max_workers=2, idle_seconds=0.2, name="test-reader")
    wrapper = pool.submit(wrapper_after_a_read).result(timeout=5)
    assert pool.thread_count() == 1
    assert wait_until(lambda: pool.thread_count() == 0), "the idle thread ended"
    assert wrapper.connection is None, "and closed its connection first"
    # A later read starts a thread again.
    assert pool.submit(lambda: threading.current_thread().name).result(timeout=5).startswith("test-reader")
    pool.shutdown()


def test_reads_keep_the_connection_while_busy():
    pool = ReaderPool(max_workers=1, idle_seconds=5, name="test-reader")
    first = pool.submit(wrapper_after_a_read).result(timeout=5)
    second = pool.submit(wrapper_after_a_read).result(timeout=5)
    assert first is second and first.connection is not None, "one thread, one connection, reused"
    pool.shutdown()
    assert first.connection is None and pool.thread_count() == 0


def test_a_burst_of_reads_runs_on_several_threads_up_to_the_limit():
    pool = ReaderPool(max_workers=3, idle_seconds=5, name="test-reader")
    release = threading.Event()
    futures = [pool.submit(release.wait, 5) for _ in range(6)]
    assert wait_until(lambda: pool.thread_count() == 3)
    release.set()
    assert all(f.result(timeout=5) for f in futures)
    pool.shutdown()


def test_an_exception_in_a_read_reaches_the_caller_and_the_thread_lives_on():
    pool = ReaderPool(max_workers=1, idle_seconds=5, name="test-reader")
    with pytest.raises(ZeroDivisionError):
        pool.submit(lambda: 1 / 0).result(timeout=5)
    assert pool.submit(lambda: 42).result(timeout=5) == 42
    pool.shutdown()


async def test_closing_the_stream_reader_pool_closes_its_connections_and_a_later_read_reopens():
    wrapper = await db_read(wrapper_after_a_read)
    reader_pool_close()
    assert wrapper.connection is None
    assert await db_read(Listing.objects.count) == 0
