"""WHAT: the evaluation report: the JSON document (`report_build`) and the summary table printed beside
     the human reference figures (`summary_table`, Markdown, so it pastes into docs/evaluation.md as is).
WHY: the JSON keeps every per-negotiation fact, so a number in the table can be traced back to the
     negotiations behind it; the table is what a person reads first.
HOW: pure functions over the arms' configurations, per-negotiation results and summaries (see
     `metrics`). Everything that depends on the clock sits under "timing" keys (and nowhere else), so
     two runs with the same seed in `rule` mode give equal reports once those keys are dropped.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from negotiations.evaluation.metrics import HUMAN_REFERENCE, NegotiationResult
from negotiations.evaluation.runner import ArmConfig
from negotiations.evaluation.scenarios import BUYER_STRETCH, SELLER_FLOOR_FRACTION
from negotiations.evaluation.wording import CHECKS

REPORT_VERSION = 2  # 2: the words (each check, readable messages, examples), messages per negotiation
LIMITS_RULE = (
    f"seller floor = {SELLER_FLOOR_FRACTION} x listing price; buyer ceiling = min(listing price, "
    f"{BUYER_STRETCH} x buyer target); targets: buyer = the scenario's buyer target, seller = the listing "
    "price (negotiations/evaluation/scenarios.py, scenario_limits)"
)


@dataclass(frozen=True)
class ArmReport:
    config: ArmConfig
    results: Sequence[NegotiationResult]
    metrics: dict[str, Any]
    llm: dict[str, Any] | None = None  # the provider and model used, as the provider reported them

    def as_dict(self) -> dict[str, Any]:
        return {
            "config": self.config.as_dict(),
            "llm": self.llm,
            "metrics": self.metrics,
            "negotiations": [r.as_dict() for r in self.results],
        }


def report_build(
    *,
    scenarios: dict[str, Any],
    settings: dict[str, Any],
    arms: Sequence[ArmReport],
    timing: dict[str, Any],
    complete: bool = True,
) -> dict[str, Any]:
    """`complete` is False while configurations are still to run (the report is rewritten after each)."""
    return {
        "report": "negotiation evaluation",
        "version": REPORT_VERSION,
        "complete": complete,
        "scenarios": scenarios,
        "limits_rule": LIMITS_RULE,
        "settings": settings,
        "human_reference": HUMAN_REFERENCE,
        "arms": [arm.as_dict() for arm in arms],
        "timing": timing,
    }


def without_timing(value: Any) -> Any:
    """The report with every "timing" entry removed (what must be equal between two seeded runs)."""
    if isinstance(value, dict):
        return {k: without_timing(v) for k, v in value.items() if k != "timing"}
    if isinstance(value, list):
        return [without_timing(v) for v in value]
    return value


# --- the table -------------------------------------------------------------------------------------
def summary_table(arms: Sequence[ArmReport]) -> str:
    """A Markdown table: one column per arm, then the human reference."""
    human = HUMAN_REFERENCE
    kinds = sorted({kind for arm in arms for kind in arm.metrics["guardrails"]})
    rows: list[tuple[str, list[str], str]] = [
        ("agents (buyer vs seller)", [_agents(a.config) for a in arms], "people"),
        (
            "negotiations (with a zone of agreement)",
            [f"{m['negotiations']} ({m['with_zone_of_agreement']})" for m in _metrics(arms)],
            "591 dialogues",
        ),
        ("deal rate, all", [_count_rate(m["deals"], m["deal_rate"]) for m in _metrics(arms)], _pct(human["deal_rate"])),
        (
            "deal rate where a zone exists",
            [
                _count_rate(m["deals_with_zone"], m["deal_rate_with_zone"], m["with_zone_of_agreement"])
                for m in _metrics(arms)
            ],
            "–",
        ),
        ("deals outside a limit (must be 0)", [str(m["deals_outside_limits"]) for m in _metrics(arms)], "–"),
        ("leaks of a private price (must be 0)", [str(m["leaks"]) for m in _metrics(arms)], "–"),
        ("guardrail interventions", [str(m["guardrails_total"]) for m in _metrics(arms)], "–"),
        *[(f"· {kind}", [str(m["guardrails"].get(kind, 0)) for m in _metrics(arms)], "–") for kind in kinds],
        (
            "median rounds / messages",
            [f"{_num(m['median_rounds'])} / {_num(m['median_messages'])}" for m in _metrics(arms)],
            f"– / {human['median_messages']}",
        ),
        (
            "messages per negotiation, mean",
            [_num(m["messages_per_negotiation"]["mean"], 1) for m in _metrics(arms)],
            "–",
        ),
        (
            "readable messages (every check passes)",
            [
                _count_rate(m["words"]["readable"], m["words"]["readable_rate"], m["words"]["messages"])
                for m in _metrics(arms)
            ],
            "–",
        ),
        *[
            (f"· passes {kind}", [_pct(m["words"]["checks"][kind]["pass_rate"]) for m in _metrics(arms)], "–")
            for kind in CHECKS
        ],
        (
            "words by the model / the phrase bank",
            [
                f"{m['words']['written_by']['model']} / {m['words']['written_by']['phrase_bank']}"
                for m in _metrics(arms)
            ],
            "–",
        ),
        (
            "llm proposals: parsed / the model's own move",
            [_proposals(m["words"]["proposals"]) for m in _metrics(arms)],
            "–",
        ),
        (
            "deal position, median (mean); 0 = buyer target, 1 = list price",
            [
                f"{_num(m['deal_position']['median'], 2)} ({_num(m['deal_position']['mean'], 2)})"
                for m in _metrics(arms)
            ],
            _num(human["median_deal_position"], 2),
        ),
        (
            "surplus share in the zone, buyer / seller (mean)",
            [
                f"{_num(m['surplus_share']['buyer_mean'], 2)} / {_num(m['surplus_share']['seller_mean'], 2)}"
                for m in _metrics(arms)
            ],
            "–",
        ),
        ("LLM calls (failures)", [f"{m['llm']['calls']} ({m['llm']['failures']})" for m in _metrics(arms)], "–"),
        ("LLM tokens, prompt / completion", [_tokens(m["llm"]) for m in _metrics(arms)], "–"),
        ("wall time", [_duration(m["timing"]["wall_seconds"]) for m in _metrics(arms)], "–"),
        ("seconds per turn", [_num(m["timing"]["seconds_per_turn"], 3) for m in _metrics(arms)], "–"),
    ]
    header = ["metric", *[a.config.name for a in arms], "human (CraigslistBargain)"]
    lines = [_row(header), _row(["---"] * len(header))]
    lines += [_row([label, *cells, ref]) for label, cells, ref in rows]
    return "\n".join(lines)


def _metrics(arms: Sequence[ArmReport]) -> list[dict[str, Any]]:
    return [a.metrics for a in arms]


def _row(cells: Sequence[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def _agents(config: ArmConfig) -> str:
    return f"{config.buyer_mode}/{config.buyer_strategy} vs {config.seller_mode}/{config.seller_strategy}"


def _pct(rate: float | None) -> str:
    return "–" if rate is None else f"{rate * 100:.1f} %"


def _count_rate(count: int, rate: float | None, of: int | None = None) -> str:
    return f"{_pct(rate)} ({count}{'' if of is None else f' of {of}'})"


def _num(value: float | None, places: int | None = None) -> str:
    if value is None:
        return "–"
    if places is None:
        return f"{value:g}"
    return f"{value:.{places}f}"


def _proposals(figures: dict[str, Any]) -> str:
    if not figures["asked"]:
        return "–"
    parsed = _count_rate(figures["parsed"], figures["parse_rate"], figures["asked"])
    return f"{parsed} / {_count_rate(figures['adopted'], figures['adopted_rate'])}"


def _tokens(llm: dict[str, Any]) -> str:
    prompt = "–" if llm["prompt_tokens"] is None else f"{llm['prompt_tokens']:,}"
    completion = f"{llm['completion_tokens']:,}"
    if llm["completion_tokens_estimated"]:
        completion += " (est.)"
    return f"{prompt} / {completion}"


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes} min {rest:02d} s"
