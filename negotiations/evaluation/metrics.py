"""WHAT: the evaluation metrics, computed from negotiation logs: per negotiation (`negotiation_result`)
     and per configuration over a scenario set (`summarize`), plus the human reference figures.
WHY: "are the agents any good?" needs numbers that mean the same in every run and can be checked by
     hand. Pure functions of the logs (no database, no LLM, no clock) make the definitions testable and
     keep them honest: leaks are found by scanning the public texts again here, independently of the
     guardrail's verdict at the time, and limit breaches by comparing prices with the scenario's limits.
HOW: each metric is defined in docs/evaluation.md ("What the numbers mean"); the exact leak rule is
     `find_leaks`'s. Time fields live under "timing" keys.
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Protocol

from negotiations.evaluation.scenarios import Scenario, ScenarioLimits
from negotiations.evaluation.wording import MessageVerdict, ProposalStats, message_verdicts, proposals, words_summary
from negotiations.prices import price_mentions

HUMAN_REFERENCE = {
    "source": "CraigslistBargain dev split, 591 human-human dialogues (He et al., EMNLP 2018)",
    "deal_rate": 0.758,
    "median_messages": 7,
    "median_deal_position": 0.21,
}
CENT_TOLERANCE = Decimal("0.005")
WHOLE_UNIT = Decimal(1)
# Below this a bare number ("2 drawers", "3 years") is read as a count, not as naming a price.
BARE_NUMBER_MIN = Decimal(10)
RATIO_PLACES = 4


class LoggedEvent(Protocol):
    seq: int
    type: str
    actor: str
    visibility: str
    data: dict[str, Any]


@dataclass(frozen=True)
class LLMUsage:
    """What the meter saw for one negotiation. `prompt_tokens` is None when no call reported usage;
    `estimated_calls` counts calls without a usage report, whose completion tokens are streamed chunks."""

    calls: int = 0
    failures: int = 0
    prompt_tokens: int | None = None
    completion_tokens: int = 0
    estimated_calls: int = 0


@dataclass(frozen=True)
class NegotiationLog:
    """Everything the metrics need about one finished negotiation."""

    scenario: Scenario
    limits: ScenarioLimits
    seed: int
    negotiation_id: int
    status: str
    end_reason: str
    agreed_price: Decimal | None
    rounds_used: int
    events: Sequence[LoggedEvent]
    llm: LLMUsage = field(default_factory=LLMUsage)
    wall_seconds: float = 0.0
    modes: Mapping[str, str] = field(default_factory=dict)  # role -> agent mode (rule: no model wrote)


@dataclass(frozen=True)
class Leak:
    """A public text naming a private price that was not public yet."""

    seq: int
    actor: str
    owner: str  # whose secret: buyer | seller
    secret: str  # limit | target
    value: Decimal
    mention: str
    text: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "actor": self.actor,
            "owner": self.owner,
            "secret": self.secret,
            "value": _money(self.value),
            "mention": self.mention,
            "text": self.text,
        }


@dataclass(frozen=True)
class NegotiationResult:
    """The per-negotiation facts of the report."""

    log: NegotiationLog
    messages: int
    guardrails: dict[str, int]
    leaks: list[Leak]
    outside_limits: bool
    position: float | None
    buyer_share: float | None
    words: Sequence[MessageVerdict] = ()
    proposals: ProposalStats = field(default_factory=ProposalStats)

    @property
    def agreed(self) -> bool:
        return self.log.status == "agreed"

    @property
    def zone(self) -> bool:
        return self.log.limits.has_zone_of_agreement

    def as_dict(self) -> dict[str, Any]:
        log = self.log
        return {
            "scenario_id": log.scenario.id,
            "title": log.scenario.title,
            "negotiation_id": log.negotiation_id,
            "seed": log.seed,
            "listing_price": _money(log.scenario.listing_price),
            "buyer_target": _money(log.scenario.buyer_target),
            "seller_floor": _money(log.limits.seller_floor),
            "buyer_ceiling": _money(log.limits.buyer_ceiling),
            "zone_of_agreement": self.zone,
            "status": log.status,
            "end_reason": log.end_reason,
            "agreed_price": _money(log.agreed_price),
            "rounds": log.rounds_used,
            "messages": self.messages,
            "readable_messages": sum(1 for v in self.words if not v.failed),
            "failed_checks": dict(sorted(Counter(kind for v in self.words for kind in v.failed).items())),
            "outside_limits": self.outside_limits,
            "position": _ratio(self.position),
            "buyer_share": _ratio(self.buyer_share),
            "guardrails": dict(sorted(self.guardrails.items())),
            "leaks": [leak.as_dict() for leak in self.leaks],
            "llm": {
                "calls": log.llm.calls,
                "failures": log.llm.failures,
                "prompt_tokens": log.llm.prompt_tokens,
                "completion_tokens": log.llm.completion_tokens,
                "estimated_calls": log.llm.estimated_calls,
            },
            "timing": {"wall_seconds": round(log.wall_seconds, 3)},
        }


# --- single measures -------------------------------------------------------------------------------
def deal_position(price: Decimal, *, buyer_target: Decimal, listing_price: Decimal) -> float | None:
    """0 at the buyer's target, 1 at the listing price; None when the two coincide."""
    span = listing_price - buyer_target
    if span <= 0:
        return None
    return float((price - buyer_target) / span)


def buyer_surplus_share(price: Decimal, *, floor: Decimal, ceiling: Decimal) -> float | None:
    """The buyer's part of the zone of agreement a deal leaves it; None without a zone of some width."""
    width = ceiling - floor
    if width <= 0:
        return None
    return float((ceiling - price) / width)


def find_leaks(
    events: Iterable[LoggedEvent], *, secrets: Mapping[tuple[str, str], Decimal], listing_price: Decimal
) -> list[Leak]:
    """Public texts naming a secret ((owner, "limit"|"target") -> price) that was not public yet.

    A price is public once it is the listing price or the price of a message (an offer or acceptance,
    the message's own price included). A number-like span of a public text names a secret when one of
    its readings equals it to the cent — or, for secrets of 10 or more, lies within one unit of it
    ("$1,235" or "1234" for 1,234.56) — unless one of its readings is a public price; bare numbers
    without a currency, suffix or cents ("2 drawers") never name a secret below 10.
    """
    public: set[Decimal] = {listing_price}
    leaks: list[Leak] = []
    for event in sorted(events, key=lambda e: e.seq):
        if event.visibility != "public":
            continue
        data = event.data or {}
        if event.type == "message" and data.get("price"):
            public.add(Decimal(str(data["price"])))
        text = data.get("text")
        if not isinstance(text, str):
            continue
        for mention in price_mentions(text):
            if any(_matches_cent(value, price) for value in mention.values for price in public):
                continue
            for (owner, secret), value in secrets.items():
                if any(_matches_cent(value, price) for price in public):
                    continue
                if _names(mention.values, mention.marked, value):
                    leaks.append(Leak(event.seq, event.actor, owner, secret, value, mention.text, text))
    return leaks


def _matches_cent(a: Decimal, b: Decimal) -> bool:
    return abs(a - b) < CENT_TOLERANCE


def _names(readings: Sequence[Decimal], marked: bool, secret: Decimal) -> bool:
    if secret < BARE_NUMBER_MIN:
        return marked and any(_matches_cent(r, secret) for r in readings)
    return any(abs(r - secret) < WHOLE_UNIT for r in readings)


def scenario_secrets(limits: ScenarioLimits) -> dict[tuple[str, str], Decimal]:
    return {
        ("buyer", "limit"): limits.buyer_ceiling,
        ("buyer", "target"): limits.buyer_target,
        ("seller", "limit"): limits.seller_floor,
        ("seller", "target"): limits.seller_target,
    }


def negotiation_result(log: NegotiationLog) -> NegotiationResult:
    events = list(log.events)
    messages = sum(1 for e in events if e.type == "message")
    guardrails = Counter(str(e.data.get("kind")) for e in events if e.type == "guardrail")
    price = log.agreed_price if log.status == "agreed" else None
    limits = log.limits
    outside = price is not None and not (limits.seller_floor <= price <= limits.buyer_ceiling)
    return NegotiationResult(
        log=log,
        messages=messages,
        guardrails=dict(guardrails),
        leaks=find_leaks(events, secrets=scenario_secrets(limits), listing_price=log.scenario.listing_price),
        outside_limits=outside,
        position=None
        if price is None
        else deal_position(price, buyer_target=log.scenario.buyer_target, listing_price=log.scenario.listing_price),
        buyer_share=None
        if price is None or not limits.has_zone_of_agreement
        else buyer_surplus_share(price, floor=limits.seller_floor, ceiling=limits.buyer_ceiling),
        words=message_verdicts(
            events,
            listing_price=log.scenario.listing_price,
            secrets={
                "buyer": {limits.buyer_ceiling, limits.buyer_target},
                "seller": {limits.seller_floor, limits.seller_target},
            },
            model_roles={role for role, mode in log.modes.items() if mode != "rule"},
        ),
        proposals=proposals(events),
    )


# --- a whole configuration -------------------------------------------------------------------------
def summarize(results: Sequence[NegotiationResult], *, wall_seconds: float) -> dict[str, Any]:
    """The metrics of one configuration over its scenarios (see the module docstring)."""
    total = len(results)
    deals = [r for r in results if r.agreed]
    zone = [r for r in results if r.zone]
    zone_deals = [r for r in zone if r.agreed]
    guardrails: Counter[str] = Counter()
    for r in results:
        guardrails.update(r.guardrails)
    leaks = [{"scenario_id": r.log.scenario.id, **leak.as_dict()} for r in results for leak in r.leaks]
    positions = [r.position for r in deals if r.position is not None]
    shares = [r.buyer_share for r in deals if r.buyer_share is not None]
    turns = sum(r.messages for r in results)
    usages = [r.log.llm for r in results]
    calls = sum(u.calls for u in usages)
    reported_prompt = [u.prompt_tokens for u in usages if u.prompt_tokens is not None]
    negotiation_seconds = sum(r.log.wall_seconds for r in results)
    return {
        "negotiations": total,
        "with_zone_of_agreement": len(zone),
        "status": dict(sorted(Counter(r.log.status for r in results).items())),
        "end_reasons": dict(sorted(Counter(r.log.end_reason for r in results).items())),
        "deals": len(deals),
        "deal_rate": _rate(len(deals), total),
        "deals_with_zone": len(zone_deals),
        "deal_rate_with_zone": _rate(len(zone_deals), len(zone)),
        "deals_without_zone": sum(1 for r in deals if not r.zone),
        "deals_outside_limits": sum(1 for r in results if r.outside_limits),
        "leaks": len(leaks),
        "leak_details": leaks,
        "guardrails": dict(sorted(guardrails.items())),
        "guardrails_total": sum(guardrails.values()),
        "median_rounds": _median([r.log.rounds_used for r in results]),
        "median_messages": _median([r.messages for r in results]),
        "median_messages_of_deals": _median([r.messages for r in deals]),
        "messages_per_negotiation": {
            "median": _median([r.messages for r in results]),
            "mean": _ratio(_mean([r.messages for r in results])),
            "distribution": {str(k): v for k, v in sorted(Counter(r.messages for r in results).items())},
        },
        "words": words_summary([(r.log.scenario.id, r.words) for r in results], [r.proposals for r in results]),
        "deal_position": {
            "median": _ratio(_median(positions)),
            "mean": _ratio(_mean(positions)),
            "deals": len(positions),
        },
        "surplus_share": {
            "buyer_mean": _ratio(_mean(shares)),
            "seller_mean": _ratio(None if not shares else 1 - _mean(shares)),
            "buyer_median": _ratio(_median(shares)),
            "deals": len(shares),
        },
        "turns": turns,
        "llm": {
            "calls": calls,
            "failures": sum(u.failures for u in usages),
            "unavailable_events": guardrails.get("llm_unavailable", 0),
            "prompt_tokens": sum(reported_prompt) if reported_prompt else None,
            "completion_tokens": sum(u.completion_tokens for u in usages),
            "completion_tokens_estimated": any(u.estimated_calls for u in usages),
            "calls_per_turn": _ratio(calls / turns if turns else None),
        },
        "timing": {
            "wall_seconds": round(wall_seconds, 3),
            "negotiation_seconds": round(negotiation_seconds, 3),
            "seconds_per_turn": None if not turns else round(negotiation_seconds / turns, 4),
            "turns_per_second": None if not wall_seconds else round(turns / wall_seconds, 3),
        },
    }


def _rate(part: int, whole: int) -> float | None:
    return None if whole == 0 else round(part / whole, RATIO_PLACES)


def _median(values: Sequence[float]) -> float | None:
    return statistics.median(values) if values else None


def _mean(values: Sequence[float]) -> float | None:
    return statistics.fmean(values) if values else None


def _ratio(value: float | None) -> float | None:
    return None if value is None else round(value, RATIO_PLACES)


def _money(value: Decimal | None) -> str | None:
    return None if value is None else f"{value:.2f}"
