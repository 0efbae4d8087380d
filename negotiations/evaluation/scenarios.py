"""WHAT: CraigslistBargain scenarios (data/craigslist_scenarios.json) and the rule that turns one into
     private hard limits for our two agents (`scenario_limits`).
WHY: the dataset gives only aspirations (the buyer's target; the seller's target, equal to the listing
     price); a negotiation needs hard limits. One documented rule, shared by `manage.py negotiate` and
     `manage.py evaluate`, keeps runs comparable.
HOW: with P the listing price and B the buyer target: seller floor = 0.70 * P, buyer ceiling =
     min(P, 1.20 * B), targets the dataset's (buyer B, seller P), rounded to cents. A zone of agreement
     exists iff ceiling >= floor (how often it does: docs/evaluation.md).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from negotiations.exceptions import ScenarioError
from negotiations.prices import round_cents

__all__ = [
    "Scenario",
    "ScenarioError",
    "ScenarioLimits",
    "scenario_limits",
    "scenario_load",
    "scenario_select",
]

SELLER_FLOOR_FRACTION = Decimal("0.70")
BUYER_STRETCH = Decimal("1.20")


@dataclass(frozen=True)
class Scenario:
    id: str
    title: str
    category: str
    description: str
    listing_price: Decimal
    buyer_target: Decimal
    seller_target: Decimal


@dataclass(frozen=True)
class ScenarioLimits:
    seller_floor: Decimal
    buyer_ceiling: Decimal
    seller_target: Decimal
    buyer_target: Decimal

    @property
    def has_zone_of_agreement(self) -> bool:
        return self.buyer_ceiling >= self.seller_floor


def scenario_load(path: str | Path) -> list[Scenario]:
    try:
        raw = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ScenarioError(f"cannot read scenarios from {path}: {exc}") from exc
    if not isinstance(raw, list):
        raise ScenarioError("a scenario file holds a JSON list")
    try:
        return [
            Scenario(
                id=str(item["id"]),
                title=str(item["title"]),
                category=str(item.get("category", "")),
                description=str(item.get("description", "")),
                listing_price=Decimal(str(item["listing_price"])),
                buyer_target=Decimal(str(item["buyer_target"])),
                seller_target=Decimal(str(item.get("seller_target", item["listing_price"]))),
            )
            for item in raw
        ]
    except (KeyError, TypeError, ArithmeticError) as exc:
        raise ScenarioError(f"malformed scenario: {exc!r}") from exc


def scenario_select(scenarios: list[Scenario], key: str) -> Scenario:
    """By Craigslist id, else by 0-based index."""
    for scenario in scenarios:
        if scenario.id == key:
            return scenario
    if key.lstrip("-").isdigit() and -len(scenarios) <= int(key) < len(scenarios):
        return scenarios[int(key)]
    raise ScenarioError(f"no scenario with id or index {key!r} (there are {len(scenarios)})")


def scenario_limits(scenario: Scenario) -> ScenarioLimits:
    price = scenario.listing_price
    buyer_target = min(scenario.buyer_target, price)
    ceiling = min(price, round_cents(BUYER_STRETCH * buyer_target))
    floor = round_cents(SELLER_FLOOR_FRACTION * price)
    return ScenarioLimits(
        seller_floor=floor,
        buyer_ceiling=ceiling,
        seller_target=max(scenario.seller_target, floor),
        buyer_target=min(buyer_target, ceiling),
    )
