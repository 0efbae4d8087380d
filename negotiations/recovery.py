"""WHAT: `negotiation_resume_orphans()`: hand every `running` negotiation that no task plays in this
     process back to the runner, once per process, at its first negotiations API request.
WHY: the in-process runner's tasks die with the process. After a restart, negotiations left `running`
     would stay so forever; the engine resumes any of them from its log with nothing lost or repeated,
     it just has to be asked. The first negotiations request after a start is the natural moment:
     it runs on the server's event loop (where the runner needs to be), and watching clients make it
     happen by themselves — EventSource reconnects within NEGOTIATION_STREAM_RETRY_MS of a restart.
HOW: `orphans_resume_once()` is called by every negotiations endpoint; the first call that can reach
     the runner's loop resumes the orphans (NEGOTIATION_RESUME_ORPHANS=false turns this off). Under
     WSGI or the sync test client there is no loop: it logs nothing, does nothing, and tries again on
     the next request. With several server processes each would resume the same orphans; the engine
     keeps the log correct (a turn is written once) but LLM calls are duplicated, so such deployments
     should use a task-queue runner (NEGOTIATION_RUNNER) and turn this off.
"""
from __future__ import annotations

import logging
import threading

from django.conf import settings

from negotiations.models import Negotiation
from negotiations.runner import NegotiationRunner, get_runner
from negotiations.services import negotiation_resume

__all__ = ["negotiation_resume_orphans", "orphans_resume_once", "orphans_sweep_reset"]

logger = logging.getLogger(__name__)

_lock = threading.Lock()
_done = False


def negotiation_resume_orphans(*, runner: NegotiationRunner | None = None) -> list[int]:
    """Resume every running negotiation this runner is not playing; returns their ids."""
    runner = runner or get_runner()
    resumed = []
    for negotiation in Negotiation.objects.filter(status=Negotiation.Status.RUNNING).order_by("pk"):
        if runner.is_active(negotiation.pk):
            continue
        negotiation_resume(negotiation=negotiation, runner=runner)
        resumed.append(negotiation.pk)
    if resumed:
        logger.info("resumed %s negotiation(s) left running: %s", len(resumed), resumed)
    return resumed


def orphans_resume_once(*, runner: NegotiationRunner | None = None) -> None:
    """The first call in this process that can reach the runner resumes the orphans (sync code)."""
    global _done
    if _done or not settings.NEGOTIATION_RESUME_ORPHANS:
        return
    with _lock:
        if _done:
            return
        try:
            negotiation_resume_orphans(runner=runner)
        except RuntimeError as exc:  # no event loop here (WSGI, the sync test client): try next time
            logger.debug("orphan sweep postponed: %s", exc)
            return
        _done = True


def orphans_sweep_reset() -> None:
    """Forget that the sweep ran (tests)."""
    global _done
    with _lock:
        _done = False
