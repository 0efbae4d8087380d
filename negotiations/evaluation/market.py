"""WHAT: the market evaluation: K competing buyers per scenario listing (`market_run`), each a real
     negotiation with the listing's seller agent, and the market's metrics (`market_metrics`).
WHY: a market is judged by who gets the item and at what price, not by pairs: one sale per listing,
     won by the buyer who values it most (allocative efficiency), with the surplus realised
     (welfare, as Magentic Marketplace measures it), at a price near the second-highest value.
HOW: buyer k's private ceiling is the scenario's ceiling scaled by (1 - BUYER_STEP * k), so ceilings
     are distinct and the scenario's own buyer is the highest; its target scales the same way. The
     negotiations of one listing are created, started and played together by the real engine.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from asgiref.sync import sync_to_async

from negotiations.agents.agent import ProviderResolver
from negotiations.engine import engine as engine_module
from negotiations.engine.asyncio_runner import AsyncioRunner
from negotiations.engine.engine import NegotiationEngine
from negotiations.engine.runners import set_runner
from negotiations.evaluation.database import close_thread_connections
from negotiations.evaluation.runner import ArmConfig, RunSettings, scenario_seed
from negotiations.evaluation.scenarios import Scenario, scenario_limits
from negotiations.market import mandate_create
from negotiations.models import Event, Mandate, Negotiation
from negotiations.prices import round_cents
from negotiations.services import listing_create, negotiation_create, negotiation_start
from negotiations.validation import MAX_CATEGORY_CHARS, MAX_DESCRIPTION_CHARS, MAX_TITLE_CHARS

__all__ = [
    "BUYER_STEP",
    "ListingMarket",
    "MandateOutcome",
    "mandate_metrics",
    "mandate_run",
    "market_metrics",
    "market_run",
]

BUYER_STEP = Decimal("0.06")


@dataclass(frozen=True)
class ListingMarket:
    """One scenario's listing after its buyers competed."""

    scenario: str
    floor: Decimal
    ceilings: tuple[Decimal, ...]  # buyer k's ceiling, in buyer order
    sales: int  # agreed negotiations on the listing (1 at most, or the rule is broken)
    winner: int | None  # the buyer index that bought
    price: Decimal | None
    seconds_to_sale: float | None
    messages_to_sale: int | None
    end_reasons: tuple[str, ...]


def buyer_sides(scenario: Scenario, buyers: int, arm: ArmConfig) -> list[dict[str, Any]]:
    limits = scenario_limits(scenario)
    sides = []
    for k in range(buyers):
        scale = 1 - BUYER_STEP * k
        ceiling = max(round_cents(limits.buyer_ceiling * scale), Decimal("0.01"))
        target = min(round_cents(limits.buyer_target * scale), ceiling)
        sides.append(
            {
                "limit_price": str(ceiling),
                "target_price": str(target),
                "mode": arm.buyer_mode,
                "strategy": arm.buyer_strategy,
            }
        )
    return sides


def market_run(
    *,
    arm: ArmConfig,
    scenarios: Sequence[Scenario],
    settings: RunSettings,
    buyers: int,
    provider_resolver: ProviderResolver | None = None,
) -> list[ListingMarket]:
    """Create each scenario's listing (with its seller agent) and `buyers` competing negotiations, play
    them (a listing's buyers together, at most `settings.concurrency` listings at once), read back."""
    prepared = []
    for scenario in scenarios:
        limits = scenario_limits(scenario)
        seller = {"limit_price": str(limits.seller_floor), "target_price": str(limits.seller_target)}
        seller.update(mode=arm.seller_mode, strategy=arm.seller_strategy)
        sides = buyer_sides(scenario, buyers, arm)
        for side in [seller, *sides]:
            if side["mode"] != "rule":
                side.update({k: v for k, v in (("provider", arm.provider), ("model", arm.model)) if v})
        listing = listing_create(
            title=scenario.title[:MAX_TITLE_CHARS],
            description=scenario.description[:MAX_DESCRIPTION_CHARS],
            category=scenario.category[:MAX_CATEGORY_CHARS],
            list_price=str(scenario.listing_price),
            seller=seller,
        )
        ids = []
        for k, side in enumerate(sides):
            created = negotiation_create(
                listing=listing,
                buyer=side,
                max_rounds=settings.max_rounds,
                opens=settings.opens,
                seed=scenario_seed(settings.seed + k, scenario),
            )
            negotiation_start(negotiation=created.negotiation, launch=False)
            ids.append(created.negotiation.pk)
        prepared.append((scenario, listing.pk, ids, [Decimal(s["limit_price"]) for s in sides], limits.seller_floor))
    resolver = provider_resolver or engine_module.default_provider_resolver
    started = asyncio.run(_play(prepared, settings.concurrency, resolver))
    return [_collect(*item, started[item[1]]) for item in prepared]


async def _play(prepared: list, concurrency: int, resolver: ProviderResolver) -> dict[int, float]:
    slots = asyncio.Semaphore(concurrency)
    started: dict[int, float] = {}

    async def listing_market(listing_id: int, ids: list[int]) -> None:
        async with slots:
            started[listing_id] = time.time()
            engine = NegotiationEngine(provider_resolver=resolver)
            await asyncio.gather(*(engine.run(negotiation_id) for negotiation_id in ids))

    try:
        await asyncio.gather(*(listing_market(listing_id, ids) for _, listing_id, ids, _, _ in prepared))
    finally:
        await close_thread_connections()
    return started


def _collect(
    scenario: Scenario, listing_id: int, ids: list[int], ceilings: list[Decimal], floor: Decimal, started: float
) -> ListingMarket:
    rows = {n.pk: n for n in Negotiation.objects.filter(pk__in=ids)}
    agreed = [k for k, negotiation_id in enumerate(ids) if rows[negotiation_id].status == Negotiation.Status.AGREED]
    winner = agreed[0] if agreed else None
    won = rows[ids[winner]] if winner is not None else None
    messages = Event.objects.filter(negotiation=won, type=Event.Type.MESSAGE).count() if won else None
    return ListingMarket(
        scenario=scenario.id,
        floor=floor,
        ceilings=tuple(ceilings),
        sales=len(agreed),
        winner=winner,
        price=won.agreed_price if won else None,
        seconds_to_sale=(won.finished_at.timestamp() - started) if won and won.finished_at else None,
        messages_to_sale=messages,
        end_reasons=tuple(rows[negotiation_id].end_reason for negotiation_id in ids),
    )


def market_metrics(markets: Sequence[ListingMarket]) -> dict[str, Any]:
    """Sales, double sales (must be 0), allocative efficiency (share of sales won by the highest
    ceiling), welfare (realised surplus over the best possible: the highest ceiling minus the floor
    wherever it is not negative), price over the second-highest ceiling, time and messages to sale."""
    sold = [m for m in markets if m.sales]
    best = sum((max(max(m.ceilings) - m.floor, Decimal(0)) for m in markets), Decimal(0))
    realised = sum((m.ceilings[m.winner] - m.floor for m in sold if m.winner is not None), Decimal(0))
    second = [float(m.price / sorted(m.ceilings)[-2]) for m in sold if m.price is not None and len(m.ceilings) > 1]
    seconds = [m.seconds_to_sale for m in sold if m.seconds_to_sale is not None]
    messages = [m.messages_to_sale for m in sold if m.messages_to_sale is not None]
    possible = [m for m in markets if max(m.ceilings) >= m.floor]
    return {
        "listings": len(markets),
        "listings_with_a_zone": len(possible),
        "sales": len(sold),
        "double_sales": sum(max(m.sales - 1, 0) for m in markets),
        "sale_rate_where_a_zone_exists": round(sum(1 for m in possible if m.sales) / len(possible), 4)
        if possible
        else None,
        "allocative_efficiency": round(sum(1 for m in sold if m.ceilings[m.winner] == max(m.ceilings)) / len(sold), 4)
        if sold
        else None,
        "welfare": round(float(realised / best), 4) if best else None,
        "price_over_second_ceiling_median": round(statistics.median(second), 4) if second else None,
        "seconds_to_sale_median": round(statistics.median(seconds), 3) if seconds else None,
        "messages_to_sale_median": statistics.median(messages) if messages else None,
        "end_reasons": {
            reason: sum(m.end_reasons.count(reason) for m in markets)
            for reason in sorted({r for m in markets for r in m.end_reasons})
        },
    }


# --- shopping buyers ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class MandateOutcome:
    """One scenario's shopping buyer after the market closed."""

    scenario: str
    ceiling: Decimal
    status: str
    purchases: int  # agreed negotiations of the mandate (1 at most, or the rule is broken)
    price: Decimal | None
    list_price: Decimal | None
    listing: int | None
    tried: int  # negotiations it opened
    messages_to_purchase: int | None


def mandate_run(
    *,
    arm: ArmConfig,
    scenarios: Sequence[Scenario],
    settings: RunSettings,
    max_open: int = 3,
    provider_resolver: ProviderResolver | None = None,
) -> tuple[list[MandateOutcome], dict[int, tuple[Decimal, list[Decimal]]]]:
    """Every scenario's listing (with its seller agent) forms one catalogue; every scenario's buyer becomes
    a mandate for its category with the scenario's ceiling, and they all shop at once. Returns the
    mandates' outcomes and, per listing, (floor, the ceilings of the mandates that negotiated it)."""
    floors: dict[int, Decimal] = {}
    for scenario in scenarios:
        limits = scenario_limits(scenario)
        seller = {"limit_price": str(limits.seller_floor), "target_price": str(limits.seller_target)}
        seller.update(mode=arm.seller_mode, strategy=arm.seller_strategy)
        listing = listing_create(
            title=scenario.title[:MAX_TITLE_CHARS],
            description=scenario.description[:MAX_DESCRIPTION_CHARS],
            category=scenario.category[:MAX_CATEGORY_CHARS],
            list_price=str(scenario.listing_price),
            seller=seller,
        )
        floors[listing.pk] = limits.seller_floor
    resolver = provider_resolver or engine_module.default_provider_resolver

    async def shop() -> list[int]:
        runner = AsyncioRunner(engine_factory=lambda: NegotiationEngine(provider_resolver=resolver), max_active=0)
        previous = set_runner(runner)
        try:
            mandate_ids = []
            for scenario in scenarios:
                limits = scenario_limits(scenario)
                created = await sync_to_async(mandate_create)(
                    want={"category": scenario.category[:MAX_CATEGORY_CHARS], "max_price": str(limits.buyer_ceiling)},
                    mode=arm.buyer_mode,
                    strategy=arm.buyer_strategy,
                    max_open=max_open,
                    max_rounds=settings.max_rounds,
                )
                mandate_ids.append(created.mandate.pk)
            while runner.active_ids():  # refills hand new negotiations over while others end
                await asyncio.sleep(0.05)
            return mandate_ids
        finally:
            set_runner(previous)
            await close_thread_connections()

    mandate_ids = asyncio.run(shop())
    return _mandate_outcomes(scenarios, mandate_ids), _listing_bidders(floors)


def _mandate_outcomes(scenarios: Sequence[Scenario], mandate_ids: list[int]) -> list[MandateOutcome]:
    outcomes = []
    for scenario, mandate_id in zip(scenarios, mandate_ids, strict=True):
        mandate = Mandate.objects.get(pk=mandate_id)
        rows = list(Negotiation.objects.filter(mandate=mandate).select_related("listing"))
        agreed = [n for n in rows if n.status == Negotiation.Status.AGREED]
        won = agreed[0] if agreed else None
        outcomes.append(
            MandateOutcome(
                scenario=scenario.id,
                ceiling=mandate.max_price,
                status=mandate.status,
                purchases=len(agreed),
                price=won.agreed_price if won else None,
                list_price=won.listing.list_price if won else None,
                listing=won.listing_id if won else None,
                tried=len(rows),
                messages_to_purchase=Event.objects.filter(negotiation=won, type=Event.Type.MESSAGE).count()
                if won
                else None,
            )
        )
    return outcomes


def _listing_bidders(floors: dict[int, Decimal]) -> dict[int, tuple[Decimal, list[Decimal]]]:
    bidders: dict[int, tuple[Decimal, list[Decimal]]] = {pk: (floor, []) for pk, floor in floors.items()}
    for listing_id, ceiling in Negotiation.objects.filter(listing_id__in=floors).values_list(
        "listing_id", "mandate__max_price"
    ):
        bidders[listing_id][1].append(ceiling)
    return bidders


def mandate_metrics(
    outcomes: Sequence[MandateOutcome], bidders: dict[int, tuple[Decimal, list[Decimal]]]
) -> dict[str, Any]:
    """Purchases, double purchases and double sales (both must be 0), allocative efficiency (share of
    sales won by the highest ceiling among the mandates that negotiated that listing), welfare against
    that per-listing bound, the price over the list price, messages to purchase."""
    bought = [o for o in outcomes if o.purchases]
    sales_per_listing: dict[int, int] = {}
    for o in bought:
        sales_per_listing[o.listing] = sales_per_listing.get(o.listing, 0) + o.purchases  # type: ignore[index]
    best = sum((max(max(ceilings) - floor, Decimal(0)) for floor, ceilings in bidders.values() if ceilings), Decimal(0))
    realised = sum((o.ceiling - bidders[o.listing][0] for o in bought if o.listing is not None), Decimal(0))
    efficient = sum(1 for o in bought if o.listing is not None and o.ceiling == max(bidders[o.listing][1]))
    over_list = [float(o.price / o.list_price) for o in bought if o.price is not None and o.list_price]
    messages = [o.messages_to_purchase for o in bought if o.messages_to_purchase is not None]
    return {
        "mandates": len(outcomes),
        "bought": len(bought),
        "status": {s: sum(1 for o in outcomes if o.status == s) for s in sorted({o.status for o in outcomes})},
        "double_purchases": sum(max(o.purchases - 1, 0) for o in outcomes),
        "double_sales": sum(max(n - 1, 0) for n in sales_per_listing.values()),
        "negotiations_per_mandate_median": statistics.median([o.tried for o in outcomes]) if outcomes else None,
        "allocative_efficiency": round(efficient / len(bought), 4) if bought else None,
        "welfare_vs_listing_bound": round(float(realised / best), 4) if best else None,
        "price_over_list_median": round(statistics.median(over_list), 4) if over_list else None,
        "messages_to_purchase_median": statistics.median(messages) if messages else None,
    }
