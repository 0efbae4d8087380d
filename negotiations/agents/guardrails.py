"""WHAT: the checks the engine applies to every move and every public text, whatever wrote them:
     `check_proposal` (an LLM's move), `check_text` (public words), `assert_move_allowed` (the last gate
     before a move is logged; a failure is a bug) and `PublicDraftGate` (how much of a draft may stream).
WHY: published LLM negotiators enforce limits and privacy only in the prompt, and their agents leak
     floors, agree beyond limits and invent prices. Here the engine enforces them, so the weakest model
     still negotiates sanely; each intervention becomes a `guardrail` event for that side only.
HOW: pure functions returning `Finding`s (empty list = fine; the kinds: docs/negotiations.md). A number in
     a text passes only if every reading `prices.price_mentions` finds is allowed, or it is a small count.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from negotiations.agents.strategy import ACTIONS, Decision, within_limit
from negotiations.exceptions import GuardrailBreachError
from negotiations.prices import PriceMention, price_mentions

SMALL_NUMBER_CAP = Decimal(10)
MAX_TEXT_CHARS = 300


@dataclass(frozen=True)
class Finding:
    """One guardrail intervention; `kind` is a stable machine-readable name."""

    kind: str
    detail: str
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class TextPolicy:
    """What a side's public text may contain this turn."""

    allowed_prices: frozenset[Decimal]  # already public, plus the price offered/accepted now
    private_prices: frozenset[Decimal]  # this side's limit and target (only used to name the finding)
    small_number_ceiling: Decimal  # bare numbers below this ("2 kids") are not prices

    @classmethod
    def build(
        cls, *, public_prices: set[Decimal], current_price: Decimal | None, private_prices: set[Decimal]
    ) -> TextPolicy:
        allowed = set(public_prices)
        if current_price is not None:
            allowed.add(current_price)
        references = [p for p in allowed | private_prices if p > 0]
        ceiling = min([SMALL_NUMBER_CAP, *(p / 2 for p in references)])
        return cls(frozenset(allowed), frozenset(private_prices), ceiling)

    def allows(self, value: Decimal) -> bool:
        return any(abs(value - price) < Decimal("0.005") for price in self.allowed_prices)


_ACCEPT_WORDS = re.compile(
    r"\b(i accept|i'll accept|i will accept|accepted|i agree|agreed|(?:it'?s|we have|you have|you'?ve got) a deal"
    r"|deal!|deal at|i'll take it|i will take it|sold!|sounds good|works for me)",
    re.IGNORECASE,
)
_WALK_WORDS = re.compile(
    r"\b(walk(?:ing)? away|no deal|not interested|i'?ll pass|i pass|i'?m out|goodbye|end (?:this|the) negotiation)",
    re.IGNORECASE,
)
_REFUSE_WORDS = re.compile(
    r"\b(can'?t accept|cannot accept|won'?t accept|reject|decline|too (?:high|low)|counter)", re.IGNORECASE
)


def check_text(text: str, *, action: str, price: Decimal | None, policy: TextPolicy) -> list[Finding]:
    """Findings for a candidate public message; empty means it may be published as is."""
    if not text.strip():
        return [Finding("empty_text", "The message was empty.")]
    findings: list[Finding] = []
    mentions = price_mentions(text)
    for mention in mentions:
        kind = _mention_violation(mention, policy)
        if kind == "private_price_in_text":
            findings.append(
                Finding(kind, "The text named this side's private limit or target.", {"mention": mention.text})
            )
        elif kind:
            findings.append(Finding(kind, "The text named a price that is not public.", {"mention": mention.text}))
    contradiction = _contradiction(text, action) or _price_contradiction(mentions, action, price, policy)
    if contradiction:
        findings.append(Finding("contradicting_text", contradiction))
    return findings


def _price_contradiction(
    mentions: list[PriceMention], action: str, price: Decimal | None, policy: TextPolicy
) -> str | None:
    """An offer's text may name other (public) prices only beside its own ("You offered $400; I can do
    $450"), so "I can do $500." never voices an offer of $450; an acceptance names no price but its own.
    Bare counts ("2 drawers") are not prices."""
    if action not in ("offer", "accept") or price is None:
        return None
    prices = [m for m in mentions if not all(_small(v, marked=m.marked, policy=policy) for v in m.values)]
    own = [m for m in prices if any(abs(value - price) < Decimal("0.005") for value in m.values)]
    others = [m for m in prices if m not in own]
    if not others:
        return None
    if action == "accept":
        return f"The text names {others[0].text}, but the move accepts {price:.2f}."
    if not own:
        return f"The text names {others[0].text} but not the price offered, {price:.2f}."
    return None


def _mention_violation(mention: PriceMention, policy: TextPolicy) -> str | None:
    """A mention passes only if EVERY way of reading it is harmless: "$1 200" is 1200 or "1" and
    "200", and may not pass because 200 happens to be public while 1200 is a private limit."""
    ambiguous = len(mention.values) > 1
    forbidden = [
        value
        for value in mention.values
        if not policy.allows(value) and not _small(value, marked=mention.marked and not ambiguous, policy=policy)
    ]
    if not forbidden:
        return None
    # Within a unit of a private price counts as naming it ("1235" for a floor of 1234.56).
    if any(abs(value - private) <= 1 for value in forbidden for private in policy.private_prices):
        return "private_price_in_text"
    return "unlisted_price_in_text"


def _small(value: Decimal, *, marked: bool, policy: TextPolicy) -> bool:
    # A bare count ("2 drawers") is not a price. Nor is the tiny alternative reading of an ambiguous
    # spelling (the "1" of "$1 200", the 1.2 of "$1.200"): the ceiling is at most half of every price
    # in play, so such a reading cannot be near a private one. A marked number ("$5") stays a price:
    # "$5 more" says something about a limit.
    return not marked and value < policy.small_number_ceiling


def _contradiction(text: str, action: str) -> str | None:
    if action in ("offer", "reject", "say") and _ACCEPT_WORDS.search(text):
        return f"The text accepts, but the action is {action}."
    if action in ("offer", "accept") and _WALK_WORDS.search(text):
        return f"The text walks away, but the action is {action}."
    if action == "accept" and _REFUSE_WORDS.search(text):
        return "The text refuses, but the action is accept."
    if action == "walk_away" and _ACCEPT_WORDS.search(text):
        return "The text accepts, but the action is walk_away."
    return None


def check_proposal(
    decision: Decision,
    *,
    role: str,
    limit: Decimal,
    standing_offer: Decimal | None,
    private_prices: frozenset[Decimal] = frozenset(),
) -> list[Finding]:
    """Findings for a move proposed by an LLM; any finding means the strategy's move is used instead.
    `private_prices`: this side's limit and target, unless public anyway (an offer may not be one)."""
    if decision.action not in ACTIONS:
        return [Finding("invalid_proposal", f"Unknown action {decision.action!r}.")]
    if decision.action == "offer":
        if decision.price is None or decision.price <= 0:
            return [Finding("invalid_proposal", "An offer needs a positive price.")]
        if not within_limit(role, decision.price, limit):
            return [
                Finding(
                    "beyond_limit",
                    "The proposed offer is beyond this side's limit.",
                    {"proposed_price": f"{decision.price:.2f}"},
                )
            ]
        if decision.price in private_prices:
            return [
                Finding(
                    "private_price_offer",
                    "The proposed offer is this side's private limit or target.",
                    {"proposed_price": f"{decision.price:.2f}"},
                )
            ]
    if decision.action == "accept":
        if standing_offer is None:
            return [
                Finding(
                    "accept_without_offer",
                    "There is no offer from the other side to accept.",
                    {"proposed_price": _price_or_none(decision.price)},
                )
            ]
        if decision.price is not None and decision.price != standing_offer:
            return [
                Finding(
                    "accept_price_mismatch",
                    "Only the other side's standing offer, at its price, can be accepted.",
                    {"proposed_price": f"{decision.price:.2f}", "standing_offer": f"{standing_offer:.2f}"},
                )
            ]
        if not within_limit(role, standing_offer, limit):
            return [
                Finding(
                    "beyond_limit",
                    "Accepting would go beyond this side's limit.",
                    {"standing_offer": f"{standing_offer:.2f}"},
                )
            ]
    return []


def _price_or_none(price: Decimal | None) -> str | None:
    return None if price is None else f"{price:.2f}"


def assert_move_allowed(decision: Decision, *, role: str, limit: Decimal, standing_offer: Decimal | None) -> None:
    """Raise GuardrailBreachError if a move about to be logged breaks an invariant."""
    problems = check_proposal(decision, role=role, limit=limit, standing_offer=standing_offer)
    if decision.action == "accept" and decision.price != standing_offer:
        problems.append(Finding("accept_price_mismatch", "accept must carry the standing offer's price"))
    if problems:
        raise GuardrailBreachError(f"{role} move {decision} rejected: {problems[0].kind}")


_MARKUP = ("<", "{")


class PublicDraftGate:
    """Releases the safe prefix of a message being streamed, for live display to the other side.

    Text is released up to a word boundary, holding back the last two words (a number's suffix or
    currency word may still be on its way: "1.2" + "k"); the first time the text so far contains a
    forbidden price (in its complete words) the gate closes for good. The logged message event remains the authority.
    """

    HOLD_BACK_WORDS = 2

    def __init__(self, *, policy: TextPolicy) -> None:
        self._policy = policy
        self._text = ""
        self._released = 0
        self.closed = False

    def feed(self, delta: str) -> str:
        """Add streamed text; return the newly releasable part ("" if nothing new may be shown)."""
        if self.closed:
            return ""
        self._text += delta
        if any(mark in self._text for mark in _MARKUP):
            # Tags or JSON (a model writing a proposal's shape, not words): never shown live; the logged
            # message is the cleaned text.
            self.closed = True
            return ""
        boundaries = [m.start() for m in re.finditer(r"\s+", self._text)]
        if len(boundaries) < self.HOLD_BACK_WORDS:
            return ""
        cut = boundaries[-self.HOLD_BACK_WORDS]
        if cut <= self._released:
            return ""
        # Check every complete word so far, not just the released prefix: a suffix ("k") may follow a
        # released number. The last word may be incomplete ("$42" of "$420"), so it waits.
        complete = self._text[: boundaries[-1]]
        if any(_mention_violation(m, self._policy) for m in price_mentions(complete)):
            self.closed = True
            return ""
        piece = self._text[self._released : cut]
        self._released = cut
        return piece
