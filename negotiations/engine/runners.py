"""WHAT: the `NegotiationRunner` interface (where negotiations are played) and the process-wide runner:
     `get_runner()` / `set_runner()`.
WHY: services start, cancel and resume negotiations through this interface only, so the place that plays
     them (an asyncio task in the web process, a task-queue worker) is chosen by a setting and the
     services never import the engine. This module is a leaf: it imports no project module.
HOW: settings.NEGOTIATION_RUNNER is a dotted path (default
     `negotiations.engine.asyncio_runner.AsyncioRunner`), loaded with Django's import_string on first use,
     the way SESSION_ENGINE picks a session store.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from django.conf import settings
from django.utils.module_loading import import_string

__all__ = ["DEFAULT_RUNNER", "NegotiationRunner", "get_runner", "set_runner"]

DEFAULT_RUNNER = "negotiations.engine.asyncio_runner.AsyncioRunner"


@runtime_checkable
class NegotiationRunner(Protocol):
    def submit(self, negotiation_id: int) -> None:
        """Start playing a running negotiation in the background (no-op if it already is)."""
        ...

    def cancel(self, negotiation_id: int) -> None:
        """Stop playing it as soon as possible (no-op if it is not running here)."""
        ...

    def is_active(self, negotiation_id: int) -> bool:
        """Is it being played by this runner right now?"""
        ...


_runner: NegotiationRunner | None = None


def get_runner() -> NegotiationRunner:
    """The process-wide runner (settings.NEGOTIATION_RUNNER, default AsyncioRunner)."""
    global _runner
    if _runner is None:
        path = getattr(settings, "NEGOTIATION_RUNNER", DEFAULT_RUNNER)
        _runner = import_string(path)()
    return _runner


def set_runner(runner: NegotiationRunner | None) -> NegotiationRunner | None:
    """Replace the process-wide runner (tests, alternative deployments); returns the previous one."""
    global _runner
    previous, _runner = _runner, runner
    return previous
