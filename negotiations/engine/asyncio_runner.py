"""WHAT: where negotiations run: `AsyncioRunner` plays each one as an asyncio task on the server's event
     loop (the default under the ASGI server; without a loop, as in `manage.py negotiate`, run the engine
     in the foreground), behind the small `NegotiationRunner` interface (negotiations/engine/runners.py).
WHY: a negotiation lasts many LLM calls, far longer than a request; it must run in the background, be
     cancellable, and be replaceable by a task queue whose worker would `await NegotiationEngine().run(id)`
     (the engine resumes from the log, so at-least-once delivery is safe).
HOW: `submit`/`cancel` work from the loop's thread or a sync worker thread. `reserve` claims one of
     NEGOTIATION_MAX_ACTIVE places before a start commits (resumes are not capped), `release` gives it back.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import threading
import time
from collections.abc import Callable

from asgiref.sync import SyncToAsync
from django.conf import settings

from negotiations.engine.engine import NegotiationEngine
from negotiations.engine.loops import running_loop

logger = logging.getLogger(__name__)


__all__ = ["RESERVATION_SECONDS", "AsyncioRunner"]

RESERVATION_SECONDS = 60.0


class AsyncioRunner:
    """Runs negotiations as tasks on one event loop (the ASGI server's), tracked by negotiation id; at
    most `max_active` at once (default settings.NEGOTIATION_MAX_ACTIVE; 0: no limit)."""

    def __init__(
        self, *, engine_factory: Callable[[], NegotiationEngine] | None = None, max_active: int | None = None
    ) -> None:
        self._engine_factory = engine_factory or NegotiationEngine
        self._tasks: dict[int, asyncio.Task] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._max_active = max_active
        self._lock = threading.Lock()
        self._reserved: dict[int, float] = {}  # negotiation id -> when (monotonic)

    # --- capacity -------------------------------------------------------------------------------------
    def reserve(self, negotiation_id: int) -> bool:
        """Claim a place for a negotiation about to be started here; False if every place is taken."""
        limit = settings.NEGOTIATION_MAX_ACTIVE if self._max_active is None else self._max_active
        with self._lock:
            now = time.monotonic()
            self._reserved = {nid: at for nid, at in self._reserved.items() if now - at < RESERVATION_SECONDS}
            taken = self.active_ids() | set(self._reserved)
            if negotiation_id in taken:
                return True
            if limit and len(taken) >= limit:
                return False
            self._reserved[negotiation_id] = now
            return True

    def release(self, negotiation_id: int) -> None:
        """Give back a place `reserve` claimed for a start that did not happen."""
        with self._lock:
            self._reserved.pop(negotiation_id, None)

    # --- NegotiationRunner ----------------------------------------------------------------------------
    def submit(self, negotiation_id: int) -> None:
        loop = self._target_loop()
        if running_loop() is loop:
            self._spawn(negotiation_id)
        else:
            loop.call_soon_threadsafe(self._spawn, negotiation_id, context=contextvars.Context())

    def cancel(self, negotiation_id: int) -> None:
        task = self._tasks.get(negotiation_id)
        if task is None or task.done():
            return
        loop = task.get_loop()
        if running_loop() is loop:
            task.cancel()
        elif not loop.is_closed():
            loop.call_soon_threadsafe(task.cancel)

    def is_active(self, negotiation_id: int) -> bool:
        task = self._tasks.get(negotiation_id)
        return task is not None and not task.done()

    # --- async conveniences (tests, shutdown) --------------------------------------------------------
    def start(self, negotiation_id: int) -> asyncio.Task:
        """Spawn on the running loop and return the task (call from async code)."""
        self._loop = asyncio.get_running_loop()
        return self._spawn(negotiation_id)

    async def join(self, negotiation_id: int, timeout: float | None = None) -> None:
        """Wait until the negotiation's task ends (cancelled tasks count as ended)."""
        task = self._tasks.get(negotiation_id)
        if task is not None:
            async with asyncio.timeout(timeout):
                await asyncio.wait({task})

    async def shutdown(self) -> None:
        """Cancel every task and wait for them; the log lets `negotiation_resume` pick them up later."""
        tasks = [t for t in self._tasks.values() if not t.done()]
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks)

    def active_ids(self) -> set[int]:
        return {nid for nid, task in self._tasks.items() if not task.done()}

    # --- internals -----------------------------------------------------------------------------------
    def _spawn(self, negotiation_id: int) -> asyncio.Task:
        existing = self._tasks.get(negotiation_id)
        if existing is not None and not existing.done():
            return existing
        self._loop = asyncio.get_running_loop()
        # A fresh context: a task spawned from a request (or from a sync_to_async worker's on_commit)
        # must not inherit its context variables, e.g. asgiref's "inside the single thread" marker.
        task = self._loop.create_task(
            self._run(negotiation_id), name=f"negotiation-{negotiation_id}", context=contextvars.Context()
        )
        self._tasks[negotiation_id] = task
        self.release(negotiation_id)  # the task holds the place now
        task.add_done_callback(lambda t: self._forget(negotiation_id, t))
        return task

    async def _run(self, negotiation_id: int) -> None:
        result = await self._engine_factory().run(negotiation_id)
        logger.info(
            "negotiation %s ended its run as %s after %s turns", negotiation_id, result.status, result.turns_played
        )

    def _forget(self, negotiation_id: int, task: asyncio.Task) -> None:
        if self._tasks.get(negotiation_id) is task:
            del self._tasks[negotiation_id]
        if not task.cancelled() and task.exception() is not None:
            logger.error("negotiation %s task crashed", negotiation_id, exc_info=task.exception())

    def _target_loop(self) -> asyncio.AbstractEventLoop:
        running = running_loop()
        if running is not None:
            return running
        if self._loop is not None and self._loop.is_running():
            return self._loop
        # A sync view under ASGI runs in a SyncToAsync worker thread that knows the server's loop.
        outer = getattr(SyncToAsync.threadlocal, "main_event_loop", None)
        if outer is not None and outer.is_running():
            return outer
        raise RuntimeError(
            "AsyncioRunner has no event loop to run on: call submit() from the ASGI server (async code or a "
            "sync view), or run the engine in the foreground."
        )
