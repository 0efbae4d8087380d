"""Property-based: over random limits, targets, strategies, openers, seeds and modes (rule, narrate with
a deliberately leaky narrator), every deal lies within both limits, no event a side (or an observer) may
see holds the other side's limit, target or private reasoning — not even as that side's own offer —
and every negotiation ends within max_rounds."""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from decimal import Decimal

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from negotiations.engine.engine import NegotiationEngine
from negotiations.models import Event
from negotiations.prices import format_price, price_mentions
from negotiations.visibility import Viewer, event_list_visible_to
from tests.support.fake_provider import FakeProvider, prompt_of
from tests.support.negotiations import make_listing, make_negotiation, messages, narrated_move, price, reload

CENT = Decimal("0.01")


@dataclass(frozen=True)
class Case:
    list_price: Decimal
    limits: dict[str, Decimal]
    targets: dict[str, Decimal | None]
    strategies: dict[str, str]
    modes: dict[str, str]
    opens: str
    seed: int
    max_rounds: int


def fraction_of(value: Decimal, low: float, high: float):
    return st.decimals(
        min_value=(value * Decimal(str(low))).quantize(CENT),
        max_value=(value * Decimal(str(high))).quantize(CENT),
        places=2,
    )


@st.composite
def cases(draw, modes=("rule", "narrate")) -> Case:
    list_price = draw(st.decimals(min_value=Decimal("20.00"), max_value=Decimal("5000.00"), places=2))
    seller_floor = draw(fraction_of(list_price, 0.4, 1.1))
    buyer_limit = draw(fraction_of(list_price, 0.4, 1.2))
    buyer_target = draw(
        st.none()
        | st.decimals(min_value=(buyer_limit * Decimal("0.5")).quantize(CENT), max_value=buyer_limit, places=2)
    )
    seller_target = draw(
        st.none()
        | st.decimals(min_value=seller_floor, max_value=(seller_floor * Decimal("1.6")).quantize(CENT), places=2)
    )
    tactic = st.sampled_from(["boulware", "linear", "conceder"])
    mode = st.sampled_from(modes)
    return Case(
        list_price=list_price,
        limits={"buyer": buyer_limit, "seller": seller_floor},
        targets={"buyer": buyer_target, "seller": seller_target},
        strategies={"buyer": draw(tactic), "seller": draw(tactic)},
        modes={"buyer": draw(mode), "seller": draw(mode)},
        opens=draw(st.sampled_from(["buyer", "seller"])),
        seed=draw(st.integers(min_value=0, max_value=2**31)),
        max_rounds=draw(st.integers(min_value=1, max_value=8)),
    )


def spellings(value: Decimal) -> list[str]:
    return [format_price(value), f"{value:.2f}", f"{value / 1000:.3f}k", f"{value:,.2f} dollars"]


def leaky_narrator(case: Case):
    """Deterministic per prompt; often says its own side's private prices, sometimes contradicts itself."""

    def respond(request) -> str:
        prompt = prompt_of(request)
        role = "buyer" if "buying" in prompt else "seller"
        move = narrated_move(request)
        said = move[1] if move and move[1] else "that"
        rng = random.Random(prompt)
        private = [p for p in (case.limits[role], case.targets[role]) if p is not None]
        options = [
            f"I can do {said}.",
            f"Between us, my limit is {rng.choice(spellings(rng.choice(private)))}. So {said}.",
            f"{said}? Deal!",
            f"How about {format_price(Decimal(rng.randint(1, 9999)))} instead of {said}?",
            "Sorry, I will pass.",
        ]
        return rng.choice(options)

    return respond


async def run_case(case: Case):
    listing = await sync_to_async(make_listing)(list_price=str(case.list_price))
    sides = {
        role: {
            "limit_price": str(case.limits[role]),
            "strategy": case.strategies[role],
            "mode": case.modes[role],
            **({"target_price": str(case.targets[role])} if case.targets[role] is not None else {}),
        }
        for role in ("buyer", "seller")
    }
    negotiation, _ = await sync_to_async(make_negotiation)(
        listing=listing,
        buyer=sides["buyer"],
        seller=sides["seller"],
        max_rounds=case.max_rounds,
        opens=case.opens,
        seed=case.seed,
    )
    provider = FakeProvider(respond=leaky_narrator(case))
    await NegotiationEngine(provider_resolver=provider.resolve).run(negotiation.pk)
    negotiation, events = await reload(negotiation.pk)
    views = {
        role: await sync_to_async(list)(event_list_visible_to(negotiation=negotiation, viewer=Viewer(role)))
        for role in ("buyer", "seller", "observer")
    }
    return negotiation, events, views, provider


def check_invariants(
    case: Case, negotiation, events: list[Event], views: dict[str, list[Event]], provider: FakeProvider
) -> None:
    # Every negotiation ends, within max_rounds.
    assert negotiation.status in ("agreed", "no_deal")
    assert negotiation.rounds_used <= case.max_rounds
    assert len(messages(events)) <= 2 * case.max_rounds
    # Every deal lies within both limits; without a zone of agreement there is none.
    if negotiation.status == "agreed":
        assert case.limits["seller"] <= negotiation.agreed_price <= case.limits["buyer"]
    if case.limits["buyer"] < case.limits["seller"]:
        assert negotiation.status == "no_deal"
    thoughts = {
        role: [e.data["reasoning"] for e in events if e.type == "thought" and e.actor == role]
        for role in ("buyer", "seller")
    }
    for viewer, visible in views.items():
        for other in [r for r in ("buyer", "seller") if r != viewer]:
            check_nothing_of(other, case, visible, thoughts[other], viewer=viewer)
    # Each side's LLM was shown only what that side may see.
    public_prices = {case.list_price} | {price(m.data["price"]) for m in messages(events) if m.data["price"]}
    for request in provider.requests:
        prompt = prompt_of(request)
        other = "seller" if "buying" in prompt else "buyer"
        # A narrate prompt's worked examples (between the system line and the request) are constants.
        parts = request.messages[:1] + request.messages[-1:] if narrated_move(request) else request.messages
        shown = {v for m in parts for mention in price_mentions(m.content or "") for v in mention.values}
        assert not shown & (secrets_of(other, case) - public_prices), f"{other}'s secret in a prompt: {prompt!r}"
        assert not any(reasoning in prompt for reasoning in thoughts[other])


def secrets_of(role: str, case: Case) -> set[Decimal]:
    return {p for p in (case.limits[role], case.targets[role]) if p is not None}


def check_nothing_of(other: str, case: Case, visible: list[Event], reasoning: list[str], *, viewer: str) -> None:
    """No event `viewer` sees holds `other`'s limit or target, in a price or in any spelling in a text.

    Strict: `other`'s own offers count (opening at its target or conceding to its limit would publish
    them). The only exceptions are values public before the negotiation started (the list price) and
    values the opposite side said first: `other` accepting an offer that happens to equal its floor
    publishes nothing the offerer did not already say."""
    secrets = secrets_of(other, case)
    said_first_by_others = {case.list_price}
    for event in visible:
        if event.type in (Event.Type.THOUGHT, Event.Type.GUARDRAIL):
            assert event.actor == viewer, f"{viewer} saw {other}'s private {event.type}"
            continue
        dumped = json.dumps(event.data)
        assert "limit_price" not in dumped and "target_price" not in dumped
        assert not any(text in dumped for text in reasoning)
        named: set[Decimal] = set()
        if event.type == Event.Type.MESSAGE:
            named = {v for mention in price_mentions(event.data["text"]) for v in mention.values}
            if event.data["price"]:
                named.add(price(event.data["price"]))
        elif event.type == Event.Type.OUTCOME and event.data["agreed_price"]:
            named = {price(event.data["agreed_price"])}
        if event.actor == other or event.type == Event.Type.OUTCOME:
            leaked = named & (secrets - said_first_by_others)
            assert not leaked, f"{viewer} learnt {other}'s {leaked} from {event.data!r}"
        else:
            said_first_by_others |= named


@pytest.mark.django_db(transaction=True)
@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)
@given(case=cases())
def test_negotiations_keep_their_invariants(case: Case):
    negotiation, events, views, provider = async_to_sync(run_case)(case)
    check_invariants(case, negotiation, events, views, provider)
