"""WHAT: plays one agent configuration (an "arm": each side's mode and strategy, provider, model) over a
     list of scenarios — one real negotiation per scenario — and returns their logs for the metrics.
WHY: the numbers must describe the product, not a simulation of it: negotiations are created and
     started by the services (`negotiation_start(launch=False)`, as `manage.py negotiate` does), played
     by the real engine and agents, logged in the database, and read back from their event logs.
HOW: `arm_run(...)` creates and starts every negotiation (ids in scenario order), then plays them in one
     event loop, at most `concurrency` at a time, each with its own `UsageMeter`. Each scenario's seed
     derives from the run's seed and the scenario id: the same seed, the same negotiations, whatever --limit.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from negotiations.agents.agent import ProviderResolver
from negotiations.engine import engine as engine_module
from negotiations.engine.engine import NegotiationEngine
from negotiations.evaluation.database import close_thread_connections
from negotiations.evaluation.metering import UsageMeter
from negotiations.evaluation.metrics import LLMUsage, NegotiationLog
from negotiations.evaluation.scenarios import Scenario, ScenarioLimits, scenario_limits
from negotiations.models import AgentMode, Event, Negotiation
from negotiations.services import listing_create, negotiation_create, negotiation_start
from negotiations.validation import MAX_CATEGORY_CHARS, MAX_DESCRIPTION_CHARS, MAX_TITLE_CHARS


@dataclass(frozen=True)
class ArmConfig:
    """One configuration of the two agents, played over every scenario."""

    name: str
    buyer_mode: str
    seller_mode: str
    buyer_strategy: str
    seller_strategy: str
    provider: str = ""
    model: str = ""
    temperature: float | None = None

    @property
    def uses_llm(self) -> bool:
        return self.buyer_mode != AgentMode.RULE or self.seller_mode != AgentMode.RULE

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "buyer_mode": self.buyer_mode,
            "seller_mode": self.seller_mode,
            "buyer_strategy": self.buyer_strategy,
            "seller_strategy": self.seller_strategy,
            "provider": self.provider if self.uses_llm else None,
            "model": self.model if self.uses_llm else None,
            "temperature": self.temperature if self.uses_llm else None,
        }


@dataclass(frozen=True)
class RunSettings:
    seed: int
    concurrency: int = 1
    max_rounds: int | None = None
    opens: str = "seller"


@dataclass(frozen=True)
class NegotiationDone:
    """Progress: one negotiation of an arm has finished."""

    arm: str
    done: int
    total: int
    scenario: Scenario
    status: str
    agreed_price: Decimal | None
    rounds: int
    wall_seconds: float
    llm_calls: int


@dataclass(frozen=True)
class ArmRun:
    arm: ArmConfig
    logs: list[NegotiationLog]
    wall_seconds: float


@dataclass(frozen=True)
class _Prepared:
    scenario: Scenario
    limits: ScenarioLimits
    seed: int
    negotiation_id: int


def scenario_seed(base_seed: int, scenario: Scenario) -> int:
    return random.Random(f"{base_seed}:{scenario.id}").getrandbits(31)


def arm_run(
    *,
    arm: ArmConfig,
    scenarios: Sequence[Scenario],
    settings: RunSettings,
    provider_resolver: ProviderResolver | None = None,
    on_done: Callable[[NegotiationDone], None] | None = None,
) -> ArmRun:
    """Create, run and read back one negotiation per scenario (sync; runs its own event loop)."""
    started = time.monotonic()
    prepared = [_prepare(arm, scenario, settings) for scenario in scenarios]
    resolver = provider_resolver or engine_module.default_provider_resolver
    plays = asyncio.run(_play_all(arm, prepared, settings.concurrency, resolver, on_done))
    modes = {"buyer": arm.buyer_mode, "seller": arm.seller_mode}
    logs = [_collect(item, *plays[item.negotiation_id], modes=modes) for item in prepared]
    return ArmRun(arm, logs, time.monotonic() - started)


@dataclass(frozen=True)
class ProviderCheck:
    """The answer of an arm's provider to one short health probe, and the model the arm will use."""

    problem: str | None
    provider: str
    model: str
    models_served: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {"provider": self.provider, "model": self.model, "models_served": list(self.models_served)}


async def provider_check(resolver: ProviderResolver | None, *, name: str, model: str) -> ProviderCheck:
    """Probe the provider an arm will use (`name` "" = the default): is it there, and which model."""
    try:
        provider = await (resolver or engine_module.default_provider_resolver)(name or None)
        health = await provider.health()
    except Exception as exc:  # an unknown or disabled provider, or a broken configuration
        return ProviderCheck(str(getattr(exc, "message", "") or exc), name, model)
    finally:
        await close_thread_connections()
    chosen = model or provider.default_model
    problem = None if health.available else (health.error or "the provider is not available")
    return ProviderCheck(problem, provider.name, chosen, tuple(health.models))


def _prepare(arm: ArmConfig, scenario: Scenario, settings: RunSettings) -> _Prepared:
    limits = scenario_limits(scenario)
    seed = scenario_seed(settings.seed, scenario)
    listing = listing_create(
        title=scenario.title[:MAX_TITLE_CHARS],
        description=scenario.description[:MAX_DESCRIPTION_CHARS],
        category=scenario.category[:MAX_CATEGORY_CHARS],
        list_price=str(scenario.listing_price),
    )
    sides = {
        "buyer": {
            "limit_price": str(limits.buyer_ceiling),
            "target_price": str(limits.buyer_target),
            "mode": arm.buyer_mode,
            "strategy": arm.buyer_strategy,
        },
        "seller": {
            "limit_price": str(limits.seller_floor),
            "target_price": str(limits.seller_target),
            "mode": arm.seller_mode,
            "strategy": arm.seller_strategy,
        },
    }
    for side in sides.values():
        if side["mode"] == AgentMode.RULE:
            continue
        if arm.provider:
            side["provider"] = arm.provider
        if arm.model:
            side["model"] = arm.model
        if arm.temperature is not None:
            side["temperature"] = arm.temperature
    negotiation, _tokens = negotiation_create(
        listing=listing,
        buyer=sides["buyer"],
        seller=sides["seller"],
        max_rounds=settings.max_rounds,
        opens=settings.opens,
        seed=seed,
    )
    negotiation_start(negotiation=negotiation, launch=False)
    return _Prepared(scenario, limits, seed, negotiation.pk)


async def _play_all(
    arm: ArmConfig,
    prepared: Sequence[_Prepared],
    concurrency: int,
    resolver: ProviderResolver,
    on_done: Callable[[NegotiationDone], None] | None,
) -> dict[int, tuple[float, LLMUsage]]:
    slots = asyncio.Semaphore(concurrency)
    plays: dict[int, tuple[float, LLMUsage]] = {}

    async def play(item: _Prepared) -> None:
        async with slots:
            meter = UsageMeter()
            started = time.monotonic()
            await NegotiationEngine(provider_resolver=meter.wrap(resolver)).run(item.negotiation_id)
            seconds = time.monotonic() - started
        plays[item.negotiation_id] = (seconds, meter.usage())
        if on_done is not None:
            row = await Negotiation.objects.values("status", "agreed_price", "rounds_used").aget(pk=item.negotiation_id)
            on_done(
                NegotiationDone(
                    arm.name,
                    len(plays),
                    len(prepared),
                    item.scenario,
                    row["status"],
                    row["agreed_price"],
                    row["rounds_used"],
                    seconds,
                    meter.calls,
                )
            )

    try:
        await asyncio.gather(*(play(item) for item in prepared))
    finally:
        await close_thread_connections()
    return plays


def _collect(item: _Prepared, wall_seconds: float, usage: LLMUsage, *, modes: dict[str, str]) -> NegotiationLog:
    negotiation = Negotiation.objects.get(pk=item.negotiation_id)
    events = list(Event.objects.filter(negotiation_id=item.negotiation_id).order_by("seq"))
    return NegotiationLog(
        scenario=item.scenario,
        limits=item.limits,
        seed=item.seed,
        negotiation_id=item.negotiation_id,
        status=negotiation.status,
        end_reason=negotiation.end_reason,
        agreed_price=negotiation.agreed_price,
        rounds_used=negotiation.rounds_used,
        events=events,
        llm=usage,
        wall_seconds=wall_seconds,
        modes=modes,
    )
