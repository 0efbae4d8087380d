"""WHAT: the deterministic bargaining strategy: opening, concession curve (boulware / linear / conceder,
     after Faratin, Sierra & Jennings), acceptance, one last offer, walking away. Pure: no DB, LLM or clock.
WHY: it decides every move in `narrate` mode (a 135M model only voices it) and is `llm` mode's fallback;
     its offers are public, so none equals a private value and none lets the limit be worked out.
HOW: own turn i of H = min(CONCESSION_TURNS, max_rounds): opening + (endpoint - opening) * t ** (1 / beta),
     t = (i - 1 + noise) / (H - 1), held at the endpoint (a hidden margin short of the limit) after turn H.
     Past it: accept anything within the limit; one last offer near the limit when theirs is within reach;
     walk away when they are out of reach or stalled. Prices round as in `rounding` (never past the limit).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Literal

from negotiations.agents.rounding import round_offer, step_for
from negotiations.prices import CENT

Action = Literal["offer", "accept", "reject", "walk_away", "say"]
ACTIONS: tuple[str, ...] = ("offer", "accept", "reject", "walk_away", "say")
PRICED_ACTIONS = frozenset({"offer", "accept"})

BETAS = {"boulware": 0.3, "linear": 1.0, "conceder": 3.0}
BETA_JITTER = 0.15
# Openings derived when no target is given: a buyer opens at 70-80 % of min(list, limit), a seller at
# its list price (a seller never asks above it, a buyer never bids above it).
BUYER_OPENING_FRACTION = (0.70, 0.80)
# A given target (not public) is opened this much beyond, as a fraction of the target.
TARGET_OFFSET = (0.01, 0.05)
# Concessions stop this far short of the limit, as a fraction of the limit (at most half the way).
LIMIT_MARGIN = (0.01, 0.04)
# Own turns over which a side concedes from its opening to its endpoint (people settle in about seven
# messages; a shorter negotiation concedes over all its rounds).
CONCESSION_TURNS = 4
# The one last offer lies this far short of the limit (a fraction of it), at most LAST_OFFER_MAX_MARGIN
# after rounding. It is made only when the other side's offer is within reach: beyond the limit by at
# most REACH of it plus two rounding steps, which covers any endpoint margin of the other side, so the
# hidden margins never stop a deal that both limits allow (unless the zone is narrower than the last
# offers' margins).
LAST_OFFER_MARGIN = (0.002, 0.006)
LAST_OFFER_MAX_MARGIN = Decimal("0.01")
REACH = Decimal("0.05")
# With a better offer elsewhere, a side asks (bids) at least this fraction beyond it.
OUTSIDE_OPTION_STEP = Decimal("0.02")
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
        endpoint = self._endpoint(opening, margin_rng.uniform(*LIMIT_MARGIN))
        object.__setattr__(self, "endpoint", endpoint)
        object.__setattr__(self, "last_offer", self._last_offer(endpoint, margin_rng.uniform(*LAST_OFFER_MARGIN)))
        object.__setattr__(self, "horizon", max(1, min(CONCESSION_TURNS, self.max_rounds)))

    beta: float = field(init=False, default=0.0)
    opening: Decimal = field(init=False, default=Decimal(0))
    endpoint: Decimal = field(init=False, default=Decimal(0))  # where the curve ends (private)
    last_offer: Decimal = field(init=False, default=Decimal(0))  # the one offer past it (private)
    horizon: int = field(init=False, default=1)  # own turns until the endpoint

    def _opening(self, u: float) -> Decimal:
        if self.target is not None and self.target == self.list_price:
            raw = self.target  # public anyway: a seller asking the list price
        elif self.role == "seller" and (self.target is None or self.target >= self.list_price):
            raw = self.list_price  # a seller asks its list price, never more
        elif self.target is not None:
            offset = TARGET_OFFSET[0] + (TARGET_OFFSET[1] - TARGET_OFFSET[0]) * u
            raw = self._away_from_limit(self.target, Decimal(repr(offset)))
        elif self.role == "buyer":
            low, high = BUYER_OPENING_FRACTION
            raw = min(self.list_price, self.limit) * Decimal(repr(low + (high - low) * u))
        raw = min(raw, self.list_price)  # no ask (bid) above the list price
        return self._bounded(self._rounded(raw))

    def _endpoint(self, opening: Decimal, fraction: float) -> Decimal:
        room = abs(self.limit - opening)
        margin = max(min(self.limit * Decimal(repr(fraction)), room / 2), CENT).quantize(CENT)
        endpoint = self._rounded(self.limit - margin if self.role == "buyer" else self.limit + margin)
        # Never beyond the opening (the curve only concedes), never past the limit.
        return max(endpoint, opening) if self.role == "buyer" else min(endpoint, opening)

    def _last_offer(self, endpoint: Decimal, fraction: float) -> Decimal:
        margin = max(self.limit * Decimal(repr(fraction)), CENT)
        raw = self.limit - margin if self.role == "buyer" else self.limit + margin
        price = round_offer(
            raw,
            role=self.role,
            limit=self.limit,
            cap=self.list_price if self.role == "seller" else None,
            max_margin=self.limit * LAST_OFFER_MAX_MARGIN,
        )
        if self.role == "buyer":
            price = min(price, self.list_price)
        # Between the endpoint and the limit: it concedes, never past the limit.
        price = max(price, endpoint) if self.role == "buyer" else min(price, endpoint)
        return self._off_private_values(price, fine=True)

    def planned_price(self, own_turn: int) -> Decimal:
        """The price this side plans to offer on its `own_turn`-th turn (1-based)."""
        if self.horizon <= 1:
            progress = 1.0
        else:
            place = min(max(own_turn - 1, 0), self.horizon - 1)
            if 0 < place < self.horizon - 1:
                place += random.Random(f"{self.seed}:{self.role}:turn:{own_turn}").uniform(-TURN_JITTER, TURN_JITTER)
            progress = place / (self.horizon - 1)
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
        """As people say prices (the rounding table), away from the limit's side so rounding can never
        cross it; a seller's ask never above its list price, a buyer's bid never above it either."""
        cap = self.list_price if self.role == "seller" else None
        rounded = round_offer(price, role=self.role, limit=self.limit, cap=cap)
        return min(rounded, self.list_price) if self.role == "buyer" else rounded

    def _bounded(self, price: Decimal) -> Decimal:
        return min(price, self.limit) if self.role == "buyer" else max(price, self.limit)

    def _off_private_values(self, price: Decimal, *, fine: bool = False) -> Decimal:
        """A price equal to this side's limit or target (not public) moves one rounding step (`fine`: a
        cent) away from the limit. Only a buyer whose limit is a cent has no room: no other price is left."""
        private = {p for p in (self.limit, self.target) if p is not None and p != self.list_price}
        if price in private:
            step = CENT if fine else step_for(price)
            price = max(price - step, CENT) if self.role == "buyer" else price + step
        return price

    def decide(
        self,
        *,
        own_turn: int,
        final_turn: bool,
        standing_offer: Decimal | None,
        outside_offer: Decimal | None = None,
        own_last_offer: Decimal | None = None,
    ) -> StrategyPlan:
        """The move for this turn, given the other side's standing offer (None if it has made none), the
        best standing offer elsewhere in the market (an outside option, private; None if none) and this
        side's own latest offer (None if none)."""
        planned = self.planned_price(own_turn)
        progress = f"turn {own_turn} of {self.max_rounds}"
        outside = (
            outside_offer if outside_offer is not None and within_limit(self.role, outside_offer, self.limit) else None
        )
        if outside is not None:
            # Never settle for less than a standing better offer elsewhere, and never ask (bid) its very
            # number: that number belongs to another negotiation.
            beyond = self._rounded(self._away_from_limit(outside, OUTSIDE_OPTION_STEP))
            if self.role == "seller" and outside < self.list_price < beyond:
                beyond = self.list_price  # a seller never asks above its list price
            if not is_better_or_equal(self.role, planned, beyond):
                planned = beyond
        # Once it has offered its endpoint, and on its own last turn, a side takes anything within its limit: the
        # hidden margin shapes its own offers only, and must not stop a deal that the limits allow.
        last_own_turn = final_turn or own_turn >= self.max_rounds or own_turn > self.horizon
        threshold = self.limit if last_own_turn else planned
        if outside is not None and not is_better_or_equal(self.role, threshold, outside):
            threshold = outside
        if standing_offer is not None and is_better_or_equal(self.role, standing_offer, threshold):
            reasoning = (
                f"{progress}: their offer {standing_offer} is at least as good as "
                f"{'my limit' if last_own_turn else f'my planned {planned}'} (limit {self.limit}); accepting."
            )
            return StrategyPlan(Decision("accept", standing_offer), planned, reasoning)
        if final_turn:
            why = f"beyond my limit {self.limit}" if outside is None else f"not as good as {outside} elsewhere"
            reasoning = f"{progress}, the last of the negotiation: their offer {standing_offer} is {why}; walking away."
            return StrategyPlan(Decision("walk_away"), planned, reasoning)
        if outside is None and standing_offer is not None and own_turn >= self.max_rounds:
            # No later turn of its own to hold out for: the closest offer it will make.
            reasoning = f"{progress}, my last: their offer {standing_offer} is beyond my limit; my last offer, {self.last_offer}."
            return StrategyPlan(Decision("offer", self.last_offer), planned, reasoning)
        if outside is None and standing_offer is not None and own_turn >= self.horizon:
            end = self._end_game(own_turn, standing_offer, own_last_offer, planned, progress)
            if end is not None:
                return end
        reasoning = (
            f"{progress}: {'no offer from them yet' if standing_offer is None else f'their offer {standing_offer} is not good enough'}; "
            f"offering {planned} ({self.tactic}, opening {self.opening}, conceding no further than {self.endpoint}, "
            f"limit {self.limit})."
        )
        return StrategyPlan(Decision("offer", planned), planned, reasoning)

    def _end_game(
        self, own_turn: int, standing: Decimal, own_last: Decimal | None, planned: Decimal, progress: str
    ) -> StrategyPlan | None:
        """From the endpoint on, with their offer beyond the limit: at the endpoint's turn None (offer it:
        they may still come to it); then the one last offer when theirs is within reach, else walk away."""
        if own_turn == self.horizon:
            return None
        reach = self.limit * REACH + 2 * step_for(max(self.limit, standing))
        if own_last is not None and own_last == self.last_offer and own_turn > self.horizon + 1:
            reasoning = f"{progress}: their offer {standing} does not meet my last offer {own_last}; walking away."
            return StrategyPlan(Decision("walk_away"), planned, reasoning)
        if abs(standing - self.limit) <= reach:
            reasoning = (
                f"{progress}: their offer {standing} is beyond my limit {self.limit} but within reach; "
                f"making my last offer, {self.last_offer}."
            )
            return StrategyPlan(Decision("offer", self.last_offer), planned, reasoning)
        reasoning = f"{progress}: their offer {standing} is out of reach of my limit {self.limit}; walking away."
        return StrategyPlan(Decision("walk_away"), planned, reasoning)
