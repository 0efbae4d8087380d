"""WHAT: the exceptions of the negotiations app, in four groups: errors reported to API clients
     (ApplicationError subclasses with their code and status: capacity, an unavailable listing, mandate
     states; docs/gateway.md lists the codes), bad values (ValueError: PriceError, ScenarioError, which the
     services turn into RequestValidationError details), the engine's own signals (caught inside the app,
     never reaching a client), and a bug (GuardrailBreachError: a move breaking an invariant reached the log).
WHY: one place to see what can go wrong and who handles it (house rule: exceptions end in Error, each
     with a one-line docstring saying who raises it).
HOW: plain classes, grouped in that order; the modules that raise them import them from here.
"""

from __future__ import annotations

from marketplace.errors import ApplicationError

__all__ = [
    "GuardrailBreachError",
    "LLMUnavailableError",
    "ListingNotAvailableError",
    "MandateNoMatchError",
    "MandateNotActiveError",
    "MarketClosedError",
    "NegotiationCapacityError",
    "NegotiationNotRunningError",
    "PriceError",
    "ScenarioError",
    "TurnConflictError",
]


class NegotiationCapacityError(ApplicationError):
    """Raised by `services.negotiation_start` when this process's runner already plays (or is about to
    play) NEGOTIATION_MAX_ACTIVE negotiations; nothing was written. Clients retry later."""

    code = "NEGOTIATION_CAPACITY"
    http_status = 429
    default_message = "Too many negotiations are running on this server; try again later."
    retry_after_seconds = 10

    @property
    def response_headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after_seconds)}


class ListingNotAvailableError(ApplicationError):
    """Raised by the services that open or start a negotiation on a listing, or withdraw it, when the
    listing is sold or withdrawn; nothing was written."""

    code = "LISTING_NOT_AVAILABLE"
    http_status = 409
    default_message = "The listing is not available: it was sold or withdrawn."


class MandateNotActiveError(ApplicationError):
    """Raised by `market.mandate_cancel` when the mandate already bought, gave up or was cancelled."""

    code = "MANDATE_NOT_ACTIVE"
    http_status = 409
    default_message = "The mandate is no longer shopping."


class MandateNoMatchError(ApplicationError):
    """Raised by `market.mandate_create` when no available listing with a seller agent matches the want;
    nothing was written."""

    code = "NO_MATCHING_LISTING"
    http_status = 409
    default_message = "No available listing matches the mandate's want."


class PriceError(ValueError):
    """Raised by `prices.parse_price`: the value is not a valid price; the message says why."""


class ScenarioError(ValueError):
    """Raised by negotiations/evaluation/scenarios.py: the scenario file or the requested scenario is unusable."""


class TurnConflictError(Exception):
    """Raised by `log.negotiation_turn_commit`: another runner already wrote this turn."""


class NegotiationNotRunningError(Exception):
    """Raised by `log.negotiation_turn_commit`: the negotiation stopped while the turn was played."""


class MarketClosedError(Exception):
    """Raised by `log.negotiation_turn_commit` when the listing is no longer available to this
    negotiation (sold elsewhere, withdrawn) or its mandate bought elsewhere; `end_reason` says which.
    The turn was not written; the engine ends the negotiation with that reason."""

    def __init__(self, end_reason: str) -> None:
        super().__init__(end_reason)
        self.end_reason = end_reason


class LLMUnavailableError(Exception):
    """Raised by an agent's LLM call that failed or timed out; `code` is the error code to record."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


class GuardrailBreachError(AssertionError):
    """Raised by `guardrails.assert_move_allowed`: a move breaking an invariant reached the log gate (a
    bug in the engine, never user input)."""
