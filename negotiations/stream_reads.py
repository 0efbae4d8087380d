"""WHAT: the database reads of the negotiation streams: `db_read(fn, ...)` runs a read-only ORM function
     in a small shared pool of reader threads, and `log_heads` shares the last seq of each watched log.
WHY: hundreds of idle viewers must hold neither threads nor database connections, and a poll tick must
     cost one query per negotiation, not one per viewer.
HOW: reader threads keep their connection between reads (a reconnect per poll would dominate); a
     connection the server closed is replaced once (reads are idempotent). `log_heads.get(id,
     max_age=...)` reads the head at most once per `max_age` per negotiation per process, and viewers
     that miss together share one in-flight read.
"""
from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from asgiref.sync import sync_to_async
from django.db import InterfaceError, OperationalError, connection

from negotiations.selectors import event_last_seq

__all__ = ["READ_THREADS", "LogHeads", "db_read", "log_heads"]

T = TypeVar("T")

READ_THREADS = 4  # enough for bursts of reconnects; each holds one database connection

_read_pool = ThreadPoolExecutor(max_workers=READ_THREADS, thread_name_prefix="negotiation-stream-db")


async def db_read(fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
    """Run a read-only ORM function in the stream reader pool (see the module docstring)."""
    return await sync_to_async(_read_with_reconnect, thread_sensitive=False, executor=_read_pool)(fn, *args, **kwargs)


def _read_with_reconnect(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    # Pool threads keep their connection between reads; one the server closed is replaced once (a
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
