"""WHAT: `negotiation_resume_orphans()`: hand every `running` negotiation that no task plays in this
     process back to the runner, once per process, at its first negotiations API request.
WHY: the in-process runner's tasks die with the process, and negotiations left `running` would stay so
     forever; the engine resumes any of them from its log, it just has to be asked. The first request runs
     on the server's event loop (where the runner is), and watching clients' EventSource reconnects bring it.
HOW: `orphans_resume_once()`, called by every negotiations endpoint (NEGOTIATION_RESUME_ORPHANS=false: never),
     resumes running negotiations whose row and log were last written before this process started, so a
     live worker's are left alone; without a loop (WSGI) it tries again on the next request.
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime

from django.conf import settings
from django.db.models import Max, Q
from django.utils import timezone

from negotiations.engine.runners import NegotiationRunner, get_runner
from negotiations.market import market_sweep
from negotiations.models import Negotiation
from negotiations.services import negotiation_resume

__all__ = ["negotiation_resume_orphans", "orphans_resume_once", "orphans_sweep_reset"]

logger = logging.getLogger(__name__)

# A negotiation written to since this process started is being played by a live process (possibly
# another worker); only those left behind by an earlier process are orphans. The module is imported
# with the URLconf, at startup.
PROCESS_STARTED_AT = timezone.now()

_lock = threading.Lock()
_done = False


def negotiation_resume_orphans(*, runner: NegotiationRunner | None = None, before: datetime | None = None) -> list[int]:
    """Resume every running negotiation whose last write predates `before` (default: this process's
    start) and that this runner is not playing; returns their ids."""
    runner = runner or get_runner()
    # First end what a crash left open on a sold or withdrawn listing (or of a mandate that bought): those
    # must end, never play on.
    market_sweep(runner=runner)
    resumed = []
    before = before or PROCESS_STARTED_AT
    orphans = (
        Negotiation.objects.filter(status=Negotiation.Status.RUNNING, updated_at__lt=before)
        .annotate(last_event_at=Max("events__created_at"))
        .filter(Q(last_event_at__isnull=True) | Q(last_event_at__lt=before))
    )
    for negotiation in orphans.order_by("pk"):
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
