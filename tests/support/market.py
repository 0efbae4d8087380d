"""WHAT: helpers for the market tests: a runner that records what it is handed, rule-mode sides, and
     `accept_commit` (turn 1 committed as an acceptance, straight through the log).
WHY: the sale rule is about commits; these reach it directly, without playing a whole negotiation.
HOW: plain functions over the real services and log; no fixtures here (the tests' conftest has them).
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from negotiations import log
from negotiations.engine.runners import set_runner
from negotiations.events import message_draft
from negotiations.log import TurnOutcome
from negotiations.models import Event, Negotiation

SELLER = {"limit_price": "350.00", "mode": "rule"}
SOLD_ELSEWHERE = Negotiation.EndReason.SOLD_ELSEWHERE


def buyer(limit: str = "450.00") -> dict:
    return {"limit_price": limit, "mode": "rule"}


class RecordingRunner:
    """A runner that plays nothing: it records what the services hand it."""

    def __init__(self) -> None:
        self.submitted: list[int] = []
        self.cancelled: list[int] = []

    def submit(self, negotiation_id: int) -> None:
        self.submitted.append(negotiation_id)

    def cancel(self, negotiation_id: int) -> None:
        self.cancelled.append(negotiation_id)

    def is_active(self, negotiation_id: int) -> bool:
        return False


@pytest.fixture
def recording_runner():
    """The process-wide runner for one test: a RecordingRunner."""
    recording = RecordingRunner()
    previous = set_runner(recording)
    yield recording
    set_runner(previous)


def accept_commit(negotiation: Negotiation, price: str = "400.00") -> list[Event]:
    """Commit turn 1 of `negotiation` as an acceptance (the engine's legality checks are not the point)."""
    outcome = TurnOutcome(Negotiation.Status.AGREED, Negotiation.EndReason.ACCEPTED, Decimal(price), 1)
    drafts = [message_draft(actor="buyer", turn=1, action="accept", price=Decimal(price), text="Deal.")]
    return log.negotiation_turn_commit(negotiation_id=negotiation.pk, turn=1, drafts=drafts, outcome=outcome)
