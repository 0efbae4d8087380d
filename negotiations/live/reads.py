"""WHAT: the database reads of the negotiation streams: `db_read(fn, ...)` runs a read-only ORM function
     in a small shared pool of reader threads, and `log_heads` shares the last seq of each watched log.
WHY: hundreds of idle viewers must hold neither threads nor database connections, and a poll tick must
     cost one query per negotiation, not one per viewer. Reader threads keep their connection between
     reads (a reconnect per poll would dominate), but a thread idle for READER_IDLE_SECONDS closes it and
     ends, so a quiet server holds no connection open.
HOW: `ReaderPool`, a `concurrent.futures.Executor` that starts up to `max_workers` threads as work queues
     up; `reader_pool_close()` ends every reader thread and closes its connection at once (tests, shutdown).
"""

from __future__ import annotations

import asyncio
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Executor, Future
from typing import Any, TypeVar

from asgiref.sync import sync_to_async
from django.db import InterfaceError, OperationalError, connection, connections

from negotiations.selectors import event_last_seq

__all__ = ["READER_IDLE_SECONDS", "READ_THREADS", "LogHeads", "ReaderPool", "db_read", "log_heads", "reader_pool_close"]

T = TypeVar("T")

READ_THREADS = 4  # enough for bursts of reconnects; each holds one database connection
# Then a reader thread closes its connection and ends: PostgreSQL counts connections, and its test
# database cannot even be dropped while one is open.
READER_IDLE_SECONDS = 30.0

_STOP = object()


class ReaderPool(Executor):
    """Up to `max_workers` threads for database reads; a thread idle for `idle_seconds` closes its
    database connections and ends (the next burst of work starts threads again)."""

    def __init__(self, *, max_workers: int, idle_seconds: float, name: str) -> None:
        self._max_workers = max_workers
        self._idle_seconds = idle_seconds
        self._name = name
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._threads: set[threading.Thread] = set()
        self._idle = 0  # threads waiting for work
        self._closed = False

    def submit(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> Future[T]:
        future: Future[T] = Future()
        with self._lock:
            if self._closed:
                raise RuntimeError("the reader pool is closed")
            self._queue.put((future, fn, args, kwargs))
            if self._queue.qsize() > self._idle and len(self._threads) < self._max_workers:
                thread = threading.Thread(target=self._work, name=f"{self._name}-{len(self._threads)}", daemon=True)
                self._threads.add(thread)
                thread.start()
        return future

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """End every thread (after the work already queued), closing its connections."""
        with self._lock:
            self._closed = True
            threads = list(self._threads)
            for _ in threads:
                self._queue.put(_STOP)
        if wait:
            for thread in threads:
                thread.join()

    def thread_count(self) -> int:
        with self._lock:
            return len(self._threads)

    def _work(self) -> None:
        try:
            while True:
                with self._lock:
                    self._idle += 1
                try:
                    item = self._queue.get(timeout=self._idle_seconds)
                except queue.Empty:
                    item = None
                with self._lock:
                    self._idle -= 1
                    if item is None:
                        if self._queue.qsize() == 0:
                            return  # idle too long: the finally closes the connection
                        continue  # work arrived just as the wait ended: this thread was counted for it
                if item is _STOP:
                    return
                future, fn, args, kwargs = item
                if not future.set_running_or_notify_cancel():
                    continue
                try:
                    result = fn(*args, **kwargs)
                except BaseException as exc:
                    future.set_exception(exc)
                else:
                    future.set_result(result)
                del future, fn, args, kwargs, item  # hold no result while idle
        finally:
            connections.close_all()  # this thread's connections (Django's are per thread)
            with self._lock:
                self._threads.discard(threading.current_thread())


_pool_lock = threading.Lock()
_pool: ReaderPool | None = None


def _reader_pool() -> ReaderPool:
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ReaderPool(max_workers=READ_THREADS, idle_seconds=READER_IDLE_SECONDS, name="negotiation-stream-db")
        return _pool


def reader_pool_close() -> None:
    """End the reader threads now and close their connections (a later read starts a new pool)."""
    global _pool
    with _pool_lock:
        pool, _pool = _pool, None
    if pool is not None:
        pool.shutdown(wait=True)


async def db_read(fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
    """Run a read-only ORM function in the stream reader pool (see the module docstring)."""
    return await sync_to_async(_read_with_reconnect, thread_sensitive=False, executor=_reader_pool())(
        fn, *args, **kwargs
    )


def _read_with_reconnect(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    # Reader threads keep their connection between reads; one the server closed is replaced once (a
    # read is idempotent, so trying again is safe).
    try:
        return fn(*args, **kwargs)
    except (InterfaceError, OperationalError):
        if connection.in_atomic_block:
            raise
        connection.close()
        return fn(*args, **kwargs)


class LogHeads:
    """The last seq of each watched negotiation's log, shared by this process's viewers for `max_age`.

    Viewers that connected together poll together: concurrent misses share one in-flight read (per
    event loop; a server has one), so a poll tick costs one query, not one per viewer."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._heads: dict[int, tuple[float, int]] = {}
        self._reads: dict[tuple[int, int], asyncio.Future[int]] = {}

    async def get(self, negotiation_id: int, *, max_age: float) -> int:
        started = time.monotonic()
        with self._lock:
            cached = self._heads.get(negotiation_id)
        if cached is not None and started - cached[0] < max_age:
            return cached[1]
        key = (id(asyncio.get_running_loop()), negotiation_id)
        read = self._reads.get(key)
        if read is None:
            read = asyncio.ensure_future(db_read(event_last_seq, negotiation_id=negotiation_id))
            self._reads[key] = read
            read.add_done_callback(lambda _: self._reads.pop(key, None))
        head = await asyncio.shield(read)
        with self._lock:
            current = self._heads.get(negotiation_id)
            if current is None or current[0] <= started:
                self._heads[negotiation_id] = (started, head)
        return head

    def forget(self, negotiation_id: int) -> None:
        with self._lock:
            self._heads.pop(negotiation_id, None)


log_heads = LogHeads()
