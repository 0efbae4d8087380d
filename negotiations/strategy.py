"""WHAT: the deterministic bargaining strategy: an opening offer, a time-dependent concession curve
     (boulware / linear / conceder, after Faratin, Sierra & Jennings 1998), the acceptance rule and the
     deadline rule. Pure: no database, no LLM, no clock.
WHY: in `narrate` mode (the default) this decides every action and price, which is what lets a 135M
     model negotiate sanely; in `llm` mode it is the fallback whenever the model's proposal is unusable.
HOW: each side gets `max_rounds` turns. At its own turn i (1-based) its planned price is
         opening + (limit - opening) * ((i - 1) / (max_rounds - 1)) ** (1 / beta)
     (beta < 1 concedes late, beta > 1 early), so the last planned price is the limit itself. It accepts
     when the other side's standing offer is at least as good as that planned price (hence within its
     limit); on the negotiation's final turn it accepts or walks away. Prices round to cents, never past
     the limit. The seed jitters beta (+-15 %) and the derived opening, reproducibly.
"""
from __future__ import annotations

import random
from dataclasses import dataclass, field
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from typing import Literal

from negotiations.prices import CENT, round_cents

Action = Literal["offer", "accept", "reject", "walk_away", "say"]
ACTIONS: tuple[str, ...] = ("offer", "accept", "reject", "walk_away", "say")
PRICED_ACTIONS = frozenset({"offer", "accept"})

BETAS = {"boulware": 0.3, "linear": 1.0, "conceder": 3.0}
BETA_JITTER = 0.15
# Openings derived when no target is given: a buyer opens at 70-80 % of min(list, limit),
# a seller at the list price or 20 % above its floor, whichever is higher.
BUYER_OPENING_FRACTION = (0.70, 0.80)
SELLER_OPENING_MARKUP = Decimal("1.20")


@dataclass(frozen=True)
class Decision:
    """What a side does on its turn; `price` is set for offer and accept only."""

    action: Action
    price: Decimal | None = None


@dataclass(frozen=True)
class StrategyPlan:
    """A decision with the private reasoning behind it (logged as a `thought`, own side only)."""

    decision: Decision
    planned_price: Decimal
    reasoning: str


def is_better_or_equal(role: str, candidate: Decimal, reference: Decimal) -> bool:
    """Is `candidate` at least as good as `reference` for `role` (buyers like low, sellers high)?"""
    return candidate <= reference if role == "buyer" else candidate >= reference


def within_limit(role: str, price: Decimal, limit: Decimal) -> bool:
    return is_better_or_equal(role, price, limit)


@dataclass(frozen=True)
class ConcessionStrategy:
    role: Literal["buyer", "seller"]
    limit: Decimal
    target: Decimal | None
    tactic: str
    list_price: Decimal
    max_rounds: int
    seed: int

    def __post_init__(self) -> None:
        if self.tactic not in BETAS:
            raise ValueError(f"unknown strategy {self.tactic!r}")
        rng = random.Random(f"{self.seed}:{self.role}")
        jitter = rng.uniform(-BETA_JITTER, BETA_JITTER)
        object.__setattr__(self, "beta", BETAS[self.tactic] * (1 + jitter))
        object.__setattr__(self, "opening", self._opening(rng.random()))

    beta: float = field(init=False, default=0.0)
    opening: Decimal = field(init=False, default=Decimal(0))

    def _opening(self, u: float) -> Decimal:
        if self.target is not None:
            raw = self.target
        elif self.role == "buyer":
            low, high = BUYER_OPENING_FRACTION
            raw = min(self.list_price, self.limit) * Decimal(str(low + (high - low) * u))
        else:
            raw = max(self.list_price, self.limit * SELLER_OPENING_MARKUP)
        # Round away from the limit's side so rounding can never cross it.
        rounding = ROUND_FLOOR if self.role == "buyer" else ROUND_CEILING
        opening = max(raw.quantize(CENT, rounding=rounding), CENT)
        return min(opening, self.limit) if self.role == "buyer" else max(opening, self.limit)

    def planned_price(self, own_turn: int) -> Decimal:
        """The price this side plans to offer on its `own_turn`-th turn (1-based)."""
        if self.max_rounds <= 1:
            progress = 1.0
        else:
            progress = min(max((own_turn - 1) / (self.max_rounds - 1), 0.0), 1.0)
        alpha = Decimal(repr(progress ** (1.0 / self.beta)))
        price = round_cents(self.opening + (self.limit - self.opening) * alpha)
        return min(price, self.limit) if self.role == "buyer" else max(price, self.limit)

    def decide(self, *, own_turn: int, final_turn: bool, standing_offer: Decimal | None) -> StrategyPlan:
        """The move for this turn, given the other side's standing offer (None if it has made none)."""
        planned = self.planned_price(own_turn)
        progress = f"turn {own_turn} of {self.max_rounds}"
        if standing_offer is not None and is_better_or_equal(self.role, standing_offer, planned):
            reasoning = (
                f"{progress}: their offer {standing_offer} is at least as good as my planned {planned} "
                f"(limit {self.limit}); accepting."
            )
            return StrategyPlan(Decision("accept", standing_offer), planned, reasoning)
        if final_turn:
            reasoning = (
                f"{progress}, the last of the negotiation: their offer {standing_offer} is beyond my limit "
                f"{self.limit}; walking away."
            )
            return StrategyPlan(Decision("walk_away"), planned, reasoning)
        reasoning = (
            f"{progress}: {'no offer from them yet' if standing_offer is None else f'their offer {standing_offer} is not good enough'}; "
            f"offering {planned} ({self.tactic}, opening {self.opening}, limit {self.limit})."
        )
        return StrategyPlan(Decision("offer", planned), planned, reasoning)
