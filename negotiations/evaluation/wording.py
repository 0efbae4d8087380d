"""WHAT: the words metrics: every public message of a log checked again (`message_verdicts`), then per
     configuration each check's pass rate, the readable-message rate (all checks pass), example failures
     and who wrote the words (`words_summary`); and for `llm` mode how many proposals parsed (`proposals`).
WHY: the guardrail's verdict at the time is not evidence; re-running the same checks on what was
     published, from the public log alone, is (as `metrics.find_leaks` does for leaks).
HOW: pure functions of the events: the allowed prices of a message are the list price and every price
     offered before or in it; its checks are guardrails.check_text and wording.check_wording.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from negotiations.agents.guardrails import TextPolicy, check_text
from negotiations.agents.wording import WORDING_KINDS, check_wording

__all__ = ["CHECKS", "MessageVerdict", "ProposalStats", "message_verdicts", "proposals", "words_summary"]

# Every check a public message passes or fails, by the guardrail kind of its failure.
CHECKS: tuple[str, ...] = (
    "empty_text",
    "private_price_in_text",
    "unlisted_price_in_text",
    "contradicting_text",
    *WORDING_KINDS,
)
EXAMPLES_PER_CHECK = 3
# A message whose turn logged one of these was said from the phrase bank (or, before it, a template).
_BANK_REMEDIES = frozenset({"phrase", "template"})
# Guardrail kinds that refuse an `llm`-mode proposal (the strategy's move is used instead).
_REFUSALS = frozenset(
    {"invalid_proposal", "beyond_limit", "private_price_offer", "accept_without_offer", "accept_price_mismatch"}
)


@dataclass(frozen=True)
class MessageVerdict:
    """One public message and the checks it fails (empty: readable)."""

    seq: int
    turn: int
    actor: str
    action: str
    price: str | None
    text: str
    failed: tuple[str, ...]
    by: str  # "model" or "phrase_bank"

    def as_dict(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "turn": self.turn,
            "actor": self.actor,
            "action": self.action,
            "price": self.price,
            "text": self.text,
            "failed": list(self.failed),
            "by": self.by,
        }


@dataclass(frozen=True)
class ProposalStats:
    """`llm` mode: proposals asked for, how many parsed, how many became the move, how many constrained."""

    proposals: int = 0
    parsed: int = 0
    adopted: int = 0
    constrained: int = 0


def message_verdicts(
    events: Iterable[Any], *, listing_price: Decimal, secrets: dict[str, set[Decimal]], model_roles: set[str]
) -> list[MessageVerdict]:
    """Every public message's checks. `secrets` (role -> its limit and target) only name a private price's
    failure as such; `model_roles`: the sides a model wrote for (not in `rule` mode)."""
    ordered = sorted(events, key=lambda e: e.seq)
    bank_turns = {
        (e.actor, e.data.get("turn"))
        for e in ordered
        if e.type == "guardrail" and (e.data.get("remedy") in _BANK_REMEDIES or e.data.get("kind") == "llm_unavailable")
    }
    public: set[Decimal] = {listing_price}
    said: dict[str, list[str]] = {}
    verdicts: list[MessageVerdict] = []
    for event in ordered:
        if event.type != "message" or event.visibility != "public":
            continue
        data = event.data or {}
        action, raw_price, text = data.get("action", ""), data.get("price"), data.get("text") or ""
        price = Decimal(str(raw_price)) if raw_price else None
        policy = TextPolicy.build(
            public_prices=public, current_price=price, private_prices=secrets.get(event.actor, set())
        )
        found = check_text(text, action=action, price=price, policy=policy)
        found += check_wording(text, role=event.actor, action=action, price=price, earlier=said.get(event.actor, ()))
        said.setdefault(event.actor, []).append(text)
        failed = tuple(kind for kind in CHECKS if any(f.kind == kind for f in found))
        by = (
            "model"
            if event.actor in model_roles and (event.actor, data.get("turn")) not in bank_turns
            else "phrase_bank"
        )
        verdicts.append(
            MessageVerdict(event.seq, int(data.get("turn") or 0), event.actor, action, raw_price, text, failed, by)
        )
        if price is not None:
            public.add(price)
    return verdicts


def proposals(events: Iterable[Any]) -> ProposalStats:
    """From the thoughts (each `llm`-mode turn logs its proposal) and the guardrails of the same turn."""
    events = list(events)
    refused = {
        (e.actor, e.data.get("turn")) for e in events if e.type == "guardrail" and e.data.get("kind") in _REFUSALS
    }
    asked = parsed = adopted = constrained = 0
    for event in events:
        proposal = event.data.get("proposal") if event.type == "thought" else None
        if not isinstance(proposal, dict):
            continue
        asked += 1
        constrained += bool(proposal.get("constrained"))
        readable = proposal.get("action") is not None and not (
            proposal["action"] == "offer" and not proposal.get("price")
        )
        parsed += readable
        adopted += readable and (event.actor, event.data.get("turn")) not in refused
    return ProposalStats(asked, parsed, adopted, constrained)


def words_summary(
    verdicts_by_scenario: Sequence[tuple[str, Sequence[MessageVerdict]]], stats: Sequence[ProposalStats]
) -> dict[str, Any]:
    """Pass rate of each check over all public messages, the readable rate, up to EXAMPLES_PER_CHECK
    failing messages per check, who wrote the words, and the proposal figures."""
    all_verdicts = [(sid, v) for sid, verdicts in verdicts_by_scenario for v in verdicts]
    total = len(all_verdicts)
    failures: Counter[str] = Counter(kind for _, v in all_verdicts for kind in v.failed)
    examples: dict[str, list[dict[str, Any]]] = {}
    for scenario_id, verdict in all_verdicts:
        for kind in verdict.failed:
            if len(examples.setdefault(kind, [])) < EXAMPLES_PER_CHECK:
                examples[kind].append({"scenario_id": scenario_id, **verdict.as_dict()})
    readable = sum(1 for _, v in all_verdicts if not v.failed)
    by_model = [v for _, v in all_verdicts if v.by == "model"]
    asked = sum(s.proposals for s in stats)
    return {
        "messages": total,
        "readable": readable,
        "readable_rate": _rate(readable, total),
        "checks": {
            kind: {"failures": failures[kind], "pass_rate": _rate(total - failures[kind], total)} for kind in CHECKS
        },
        "examples": {kind: examples[kind] for kind in CHECKS if kind in examples},
        "written_by": {
            "model": len(by_model),
            "phrase_bank": total - len(by_model),
            "model_readable_rate": _rate(sum(1 for v in by_model if not v.failed), len(by_model)),
        },
        "proposals": {
            "asked": asked,
            "parsed": sum(s.parsed for s in stats),
            "parse_rate": _rate(sum(s.parsed for s in stats), asked),
            "adopted": sum(s.adopted for s in stats),
            "adopted_rate": _rate(sum(s.adopted for s in stats), asked),
            "constrained": sum(s.constrained for s in stats),
        },
    }


def _rate(part: int, whole: int) -> float | None:
    return None if whole == 0 else round(part / whole, 4)
