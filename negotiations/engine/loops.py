"""WHAT: `running_loop()`: the asyncio event loop running in this thread, or None.
WHY: the broadcaster and the runner are called both from the server's event loop and from sync worker
     threads (a sync view, a `transaction.on_commit` callback); each must know which, to call into a
     loop directly or with `call_soon_threadsafe`. `asyncio.get_running_loop()` raises instead.
HOW: one function, shared by negotiations/live/broadcast.py and negotiations/engine/runners.py.
"""

from __future__ import annotations

import asyncio

__all__ = ["running_loop"]


def running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None
