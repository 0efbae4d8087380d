"""WHAT: the deterministic bargaining strategy: an opening offer, a time-dependent concession curve
     (boulware / linear / conceder, after Faratin, Sierra & Jennings 1998), the acceptance rule and the
     deadline rule. Pure: no database, no LLM, no clock.
WHY: in `narrate` mode (the default) this decides every action and price, which is what lets a 135M
     model negotiate sanely; in `llm` mode it is the fallback whenever the model's proposal is unusable.
     Its offers are public, so they must not give away what is private: no offer equals the side's limit
     or target (unless that value is public anyway, like a target equal to the list price), and the
     limit cannot be worked out from the offers (noise on the curve, a hidden margin before the limit).
HOW: each side gets `max_rounds` turns. It opens a seeded 1-5 % beyond its target (away from its
     limit; exactly at the target when the target is the list price), and concedes towards an endpoint
     a seeded 1-4 % of the limit short of the limit (at most half the way): at its own turn i (1-based)
         opening + (endpoint - opening) * t_i ** (1 / beta),  t_i = (i - 1 + e_i) / (max_rounds - 1)
     (beta < 1 concedes late, beta > 1 early; e_i is seeded noise of up to +-0.35 turn, none on the first
     and last turns, so offers still move monotonically). It accepts when the other side's standing
     offer is at least as good as that planned price; on its own last turn, anything within its limit.
     On the negotiation's final turn it accepts or walks away. Prices round to cents, never past the
     limit; a planned price that lands on a private value moves one cent away from the limit. Every
     random choice comes from `random.Random` seeded with (seed, role[, turn]): same seed, same plan.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from typing import Literal

from negotiations.prices import CENT

Action = Literal["offer", "accept", "reject", "walk_away", "say"]
ACTIONS: tuple[str, ...] = ("offer", "accept", "reject", "walk_away", "say")
PRICED_ACTIONS = frozenset({"offer", "accept"})

BETAS = {"boulware": 0.3, "linear": 1.0, "conceder": 3.0}
BETA_JITTER = 0.15
# Openings derived when no target is given: a buyer opens at 70-80 % of min(list, limit),
# a seller at the list price or 15-30 % above its floor, whichever is higher.
BUYER_OPENING_FRACTION = (0.70, 0.80)
SELLER_OPENING_MARKUP = (1.15, 1.30)
# A given target (not public) is opened this much beyond, as a fraction of the target.
TARGET_OFFSET = (0.01, 0.05)
# Concessions stop this far short of the limit, as a fraction of the limit (at most half the way).
LIMIT_MARGIN = (0.01, 0.04)
# How far (in turns) a planned turn's place on the curve may move either way.
TURN_JITTER = 0.35


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
        opening = self._opening(rng.random())
        object.__setattr__(self, "opening", opening)
        margin_rng = random.Random(f"{self.seed}:{self.role}:margin")
        object.__setattr__(self, "endpoint", self._endpoint(opening, margin_rng.uniform(*LIMIT_MARGIN)))

    beta: float = field(init=False, default=0.0)
    opening: Decimal = field(init=False, default=Decimal(0))
    endpoint: Decimal = field(init=False, default=Decimal(0))  # the last price it offers (private)

    def _opening(self, u: float) -> Decimal:
        if self.target is not None and self.target == self.list_price:
            raw = self.target  # public anyway: a seller asking the list price
        elif self.target is not None:
            offset = TARGET_OFFSET[0] + (TARGET_OFFSET[1] - TARGET_OFFSET[0]) * u
            raw = self._away_from_limit(self.target, Decimal(repr(offset)))
        elif self.role == "buyer":
            low, high = BUYER_OPENING_FRACTION
            raw = min(self.list_price, self.limit) * Decimal(repr(low + (high - low) * u))
        else:
            low, high = SELLER_OPENING_MARKUP
            raw = max(self.list_price, self.limit * Decimal(repr(low + (high - low) * u)))
        return self._bounded(self._rounded(raw))

    def _endpoint(self, opening: Decimal, fraction: float) -> Decimal:
        room = abs(self.limit - opening)
        margin = max(min(self.limit * Decimal(repr(fraction)), room / 2), CENT).quantize(CENT)
        endpoint = self.limit - margin if self.role == "buyer" else self.limit + margin
        # Never beyond the opening (the curve only concedes), never past the limit.
        return max(endpoint, opening) if self.role == "buyer" else min(endpoint, opening)

    def planned_price(self, own_turn: int) -> Decimal:
        """The price this side plans to offer on its `own_turn`-th turn (1-based)."""
        if self.max_rounds <= 1:
            progress = 1.0
        else:
            place = min(max(own_turn - 1, 0), self.max_rounds - 1)
            if 0 < place < self.max_rounds - 1:
                place += random.Random(f"{self.seed}:{self.role}:turn:{own_turn}").uniform(-TURN_JITTER, TURN_JITTER)
            progress = place / (self.max_rounds - 1)
        alpha = Decimal(repr(progress ** (1.0 / self.beta)))
        price = self._rounded(self.opening + (self.endpoint - self.opening) * alpha)
        # Between the opening and the endpoint, whatever the rounding did.
        price = (
            min(max(price, self.opening), self.endpoint)
            if self.role == "buyer"
            else max(min(price, self.opening), self.endpoint)
        )
        return self._off_private_values(price)

    # --- helpers ------------------------------------------------------------------------------------
    def _away_from_limit(self, price: Decimal, fraction: Decimal) -> Decimal:
        """`price` moved by `fraction` of itself to the side away from the limit (at least a cent)."""
        step = max(price * fraction, CENT)
        return price - step if self.role == "buyer" else price + step

    def _rounded(self, price: Decimal) -> Decimal:
        # Round away from the limit's side so rounding can never cross it.
        return max(price.quantize(CENT, rounding=ROUND_FLOOR if self.role == "buyer" else ROUND_CEILING), CENT)

    def _bounded(self, price: Decimal) -> Decimal:
        return min(price, self.limit) if self.role == "buyer" else max(price, self.limit)

    def _off_private_values(self, price: Decimal) -> Decimal:
        """A price equal to this side's limit or target (not public) moves a cent away from the limit.
        Only a buyer whose limit is a cent has no room: it has no other price to offer."""
        private = {p for p in (self.limit, self.target) if p is not None and p != self.list_price}
        if price in private:
            price = max(price - CENT, CENT) if self.role == "buyer" else price + CENT
        return price

    def decide(self, *, own_turn: int, final_turn: bool, standing_offer: Decimal | None) -> StrategyPlan:
        """The move for this turn, given the other side's standing offer (None if it has made none)."""
        planned = self.planned_price(own_turn)
        progress = f"turn {own_turn} of {self.max_rounds}"
        # On its own last turn a side takes anything within its limit: no later offer of its own is left
        # to hold out for.
        last_own_turn = final_turn or own_turn >= self.max_rounds
        threshold = self.limit if last_own_turn else planned
        if standing_offer is not None and is_better_or_equal(self.role, standing_offer, threshold):
            reasoning = (
                f"{progress}: their offer {standing_offer} is at least as good as "
                f"{'my limit' if last_own_turn else f'my planned {planned}'} (limit {self.limit}); accepting."
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
            f"offering {planned} ({self.tactic}, opening {self.opening}, conceding no further than {self.endpoint}, "
            f"limit {self.limit})."
        )
        return StrategyPlan(Decision("offer", planned), planned, reasoning)
