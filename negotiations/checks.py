"""WHAT: Django system checks for the negotiation settings (negotiations.E001 ... E003).
WHY: a bad value in `.env` should stop `runserver`/`migrate`/`check` with a message naming the variable,
     not surface later: a default of 80 rounds would break the documented hard cap of 50, a negative one
     fails every create that omits `max_rounds` with a 500, a zero poll interval spins the stream readers.
HOW: one registered function; each refused setting is one Error naming the variable and its range.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core import checks

# (setting, smallest allowed, check id, what it is): numbers that must be at least (or above) a bound.
_AT_LEAST = (
    ("NEGOTIATION_MAX_ACTIVE", 0, "negotiations.E002", "negotiations one process plays at once (0: no limit)"),
    ("NEGOTIATION_STREAM_RETRY_MS", 0, "negotiations.E003", "the SSE retry hint in milliseconds"),
    ("NEGOTIATION_STREAM_QUEUE_SIZE", 1, "negotiations.E003", "frames queued per stream viewer"),
    ("NEGOTIATION_STREAM_DELTA_COALESCE_MS", 0, "negotiations.E003", "milliseconds live drafts are coalesced"),
)
_ABOVE_ZERO = (
    ("NEGOTIATION_STREAM_PING_SECONDS", "negotiations.E003", "seconds between stream pings"),
    ("NEGOTIATION_STREAM_POLL_SECONDS", "negotiations.E003", "seconds between log polls of a stream"),
    ("NEGOTIATION_LLM_TIMEOUT", "negotiations.E003", "seconds an agent waits for its model"),
)


@checks.register()
def check_negotiation_settings(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    errors: list[checks.CheckMessage] = []
    cap = settings.NEGOTIATION_MAX_ROUNDS_CAP
    rounds = settings.NEGOTIATION_DEFAULT_MAX_ROUNDS
    if not isinstance(rounds, int) or not 1 <= rounds <= cap:
        errors.append(
            checks.Error(
                f"NEGOTIATION_DEFAULT_MAX_ROUNDS is {rounds!r}; it must be a whole number from 1 to {cap} (the hard cap).",
                id="negotiations.E001",
            )
        )
    for name, least, check_id, what in _AT_LEAST:
        value = getattr(settings, name)
        if not isinstance(value, (int, float)) or value < least:
            errors.append(checks.Error(f"{name} ({what}) is {value!r}; it must be at least {least}.", id=check_id))
    for name, check_id, what in _ABOVE_ZERO:
        value = getattr(settings, name)
        if not isinstance(value, (int, float)) or value <= 0:
            errors.append(checks.Error(f"{name} ({what}) is {value!r}; it must be above 0.", id=check_id))
    return errors
