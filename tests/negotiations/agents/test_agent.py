"""An Agent's turn in each mode, with a scripted fake LLM and no database: `rule` never calls the model;
`narrate` always plays the strategy's move and says the model's words only when they pass the checks;
`llm` adopts a checked proposal and otherwise falls back to the strategy's move; a failing, stalling or
unresolvable model falls back to words of its own; whatever the model writes, no move crosses the side's
limit and no public text or public draft names it. Exact wording is not asserted (prompts and phrases
evolve): only moves, findings' kinds and what a text must never contain."""

from __future__ import annotations

import random
import re
import time
from decimal import Decimal

import pytest

from llm.exceptions import UnknownProviderError
from negotiations.agents.agent import Agent, AgentSettings, ListingFacts
from negotiations.agents.guardrails import within_limit
from negotiations.events import NegotiationState, TurnRecord
from negotiations.models import Event
from tests.support.fake_provider import FakeProvider, Stall

LIST_PRICE = Decimal("500.00")
LIMITS = {"buyer": Decimal("450.00"), "seller": Decimal("350.00")}
BUYER_OPENING = Decimal("300.00")
LLM_TIMEOUT = 0.5
MAX_CALLS_PER_TURN = 10  # regeneration is bounded (the exact number is the agent's to choose)


def proposal(action: str, price: Decimal | str | None = None, message: str = "") -> str:
    """A model's tagged answer in `llm` mode (the one place that knows the tags, tests/…/test_proposals.py)."""
    price_tag = "" if price is None else f"<price>{price}</price>"
    return f"<action>{action}</action>{price_tag}<message>{message}</message>"


def said(price: Decimal) -> str:
    """A price as people write it: "$480", "$433.50"."""
    return f"${price:,.0f}" if price == price.to_integral_value() else f"${price:,.2f}"


def make_agent(
    mode: str, provider: FakeProvider, *, role: str = "seller", on_delta=None, seed: int = 7, resolver=None
) -> Agent:
    return Agent(
        settings=AgentSettings(role=role, limit=LIMITS[role], target=None, strategy="linear", mode=mode),
        listing=ListingFacts(title="Oak dining table", list_price=LIST_PRICE, currency="USD"),
        max_rounds=4,
        seed=seed,
        provider_resolver=resolver or provider.resolve,
        llm_timeout=LLM_TIMEOUT,
        on_delta=on_delta,
    )


def opening() -> tuple[NegotiationState, list[Event]]:
    """The buyer's first turn: nothing on the table yet."""
    return NegotiationState(opens="buyer", max_rounds=4), []


def after_buyer_offer(price: Decimal = BUYER_OPENING) -> tuple[NegotiationState, list[Event]]:
    """The seller's first turn, the buyer having offered `price`."""
    state = NegotiationState(opens="buyer", max_rounds=4, turns=[TurnRecord(1, "buyer", "offer", price)])
    data = {"turn": 1, "round": 1, "action": "offer", "price": f"{price:.2f}", "text": f"Would you take {said(price)}?"}
    return state, [Event(seq=1, type="message", actor="buyer", visibility="public", data=data)]


SITUATIONS = {"seller": after_buyer_offer, "buyer": opening}


async def play(mode: str, provider: FakeProvider, *, role: str = "seller", on_delta=None, seed: int = 7):
    state, events = SITUATIONS[role]()
    return await make_agent(mode, provider, role=role, on_delta=on_delta, seed=seed).play(
        state=state, visible_events=events
    )


async def strategy_move(role: str = "seller", seed: int = 7):
    """The move the strategy makes on its own (what `rule` plays, and what `narrate` must play)."""
    return (await play("rule", FakeProvider(), role=role, seed=seed)).decision


def names(text: str, price: Decimal) -> bool:
    """Whether `text` writes `price` as a number of its own ("350", "$350.00"; not "3500" or "1,350")."""
    return re.search(rf"(?<![\d.,]){price:.0f}(?:\.00)?(?![\d,]|\.\d)", text) is not None


def kinds(plan) -> list[str]:
    return [finding.kind for finding in plan.findings]


# --- rule -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("role", ["buyer", "seller"])
async def test_rule_mode_never_calls_the_model_and_is_deterministic(role):
    provider = FakeProvider()
    first, again = await play("rule", provider, role=role), await play("rule", provider, role=role)
    assert provider.requests == []
    assert first.text and first.findings == []
    assert (first.decision, first.text) == (again.decision, again.text)
    assert first.actor == role and first.turn == SITUATIONS[role]()[0].next_turn


# --- narrate --------------------------------------------------------------------------------------
async def test_narrate_mode_says_the_models_words_when_they_voice_the_strategys_move():
    move = await strategy_move()
    words = f"I can do {said(move.price)} for it, it is solid oak and barely used."
    provider = FakeProvider(respond=lambda request: words)
    plan = await play("narrate", provider)
    assert plan.decision == move
    assert plan.text == words and plan.findings == []
    assert len(provider.requests) == 1


@pytest.mark.parametrize(
    "reply",
    [
        "Deal, I accept your offer!",
        proposal("accept", BUYER_OPENING, "Deal."),
        "Fine, you can have it for $200.",
        "",
    ],
    ids=["accepts", "proposes", "another-price", "empty"],
)
async def test_narrate_mode_plays_the_strategys_move_whatever_the_model_says(reply):
    move = await strategy_move()
    provider = FakeProvider(respond=lambda request: reply)
    plan = await play("narrate", provider)
    assert plan.decision == move
    assert plan.text and plan.text != reply
    assert plan.findings, "the rejected words are recorded"
    assert 1 <= len(provider.requests) <= MAX_CALLS_PER_TURN


async def test_narrate_mode_never_says_or_streams_the_sides_limit():
    deltas: list[tuple[str, str]] = []
    provider = FakeProvider(respond=lambda request: "Honestly my floor is $350, but I want more.")
    plan = await play("narrate", provider, on_delta=lambda turn, attempt, text, vis: deltas.append((vis, text)))
    assert not names(plan.text, LIMITS["seller"])
    assert "private_price_in_text" in kinds(plan)
    public = "".join(text for visibility, text in deltas if visibility == "public")
    assert not names(public, LIMITS["seller"]), "the public draft stops before the leak"


# --- the model failing ----------------------------------------------------------------------------
@pytest.mark.parametrize("mode", ["narrate", "llm"])
@pytest.mark.parametrize(
    "failure",
    [RuntimeError("connection reset"), UnknownProviderError("Unknown LLM provider 'x'.")],
    ids=["raises", "typed-error"],
)
async def test_a_failing_model_falls_back_to_the_strategys_move_and_words_of_its_own(mode, failure):
    move = await strategy_move()
    plan = await play(mode, FakeProvider(respond=lambda request: failure))
    assert plan.decision == move and plan.text
    assert "llm_unavailable" in kinds(plan)


@pytest.mark.parametrize("mode", ["narrate", "llm"])
async def test_a_model_that_stalls_past_the_timeout_falls_back_in_time(mode):
    move = await strategy_move()
    started = time.monotonic()
    plan = await play(mode, FakeProvider(respond=lambda request: Stall(30)))
    assert time.monotonic() - started < 10 * LLM_TIMEOUT * MAX_CALLS_PER_TURN
    assert plan.decision == move and plan.text
    timeouts = [f for f in plan.findings if f.kind == "llm_unavailable"]
    assert timeouts and timeouts[0].data["error_code"] == "LLM_TIMEOUT"


async def test_a_provider_that_cannot_be_resolved_falls_back_too():
    async def unresolvable(name):
        raise UnknownProviderError("Unknown LLM provider 'gone'.")

    agent = make_agent("llm", FakeProvider(), resolver=unresolvable)
    state, events = after_buyer_offer()
    plan = await agent.play(state=state, visible_events=events)
    assert plan.decision == await strategy_move() and plan.text
    assert "llm_unavailable" in kinds(plan)


# --- llm ------------------------------------------------------------------------------------------
async def test_llm_mode_adopts_a_proposal_that_passes_the_checks():
    price = Decimal("480.00")
    provider = FakeProvider(respond=lambda request: proposal("offer", price, f"I can do {said(price)} for it."))
    plan = await play("llm", provider)
    assert (plan.decision.action, plan.decision.price) == ("offer", price)
    assert said(price) in plan.text
    assert plan.thought["proposal"]["price"] == "480.00"


async def test_llm_mode_can_accept_the_standing_offer_when_it_is_within_the_limit():
    provider = FakeProvider(respond=lambda request: proposal("accept", message="Deal, I accept."))
    state, events = after_buyer_offer(Decimal("420.00"))
    plan = await make_agent("llm", provider).play(state=state, visible_events=events)
    assert (plan.decision.action, plan.decision.price) == ("accept", Decimal("420.00"))
    assert plan.findings == []


@pytest.mark.parametrize(
    ("role", "reply", "kind"),
    [
        ("seller", proposal("offer", "200.00", "Fine, $200."), "beyond_limit"),
        ("seller", proposal("accept", BUYER_OPENING, "Deal at $300."), "beyond_limit"),
        ("seller", proposal("accept", "320.00", "Deal at $320."), "accept_price_mismatch"),
        ("seller", proposal("offer", LIMITS["seller"], "I can do $350."), "private_price_offer"),
        ("buyer", proposal("offer", "470.00", "I can pay $470."), "beyond_limit"),
        ("buyer", proposal("accept", message="Deal."), "accept_without_offer"),
        ("buyer", "I dunno, maybe?", "invalid_proposal"),
        ("buyer", proposal("offer", message="How about less?"), "invalid_proposal"),
    ],
    ids=[
        "seller-below-floor",
        "seller-accepts-below-floor",
        "accept-at-another-price",
        "offer-at-own-limit",
        "buyer-above-limit",
        "accept-with-nothing-on-the-table",
        "unreadable",
        "offer-without-price",
    ],
)
async def test_llm_mode_falls_back_to_the_strategys_move_when_the_proposal_is_unusable(role, reply, kind):
    move = await strategy_move(role)
    plan = await play("llm", FakeProvider(respond=lambda request: reply), role=role)
    assert plan.decision == move
    assert kind in kinds(plan)
    assert plan.text


async def test_llm_mode_drafts_stream_privately_to_the_side_only():
    deltas: list[tuple[str, str]] = []
    provider = FakeProvider(respond=lambda request: proposal("offer", "480.00", "I can do $480 for it."))
    await play("llm", provider, on_delta=lambda turn, attempt, text, vis: deltas.append((vis, text)))
    assert deltas and {visibility for visibility, _ in deltas} == {"seller"}
    assert "<action>" in "".join(text for _, text in deltas)


# --- whatever the model writes --------------------------------------------------------------------
def wild_reply(rng: random.Random, role: str) -> str:
    limit = LIMITS[role]
    price = rng.choice([limit, limit - 1, limit + 1, Decimal(rng.randint(1, 999)), BUYER_OPENING, LIST_PRICE])
    return rng.choice(
        [
            proposal(rng.choice(["offer", "accept", "reject", "walk_away", "say", "haggle"]), price, f"Say ${price}."),
            proposal("offer", price, f"My limit is ${limit}, so ${price}."),
            f"I will tell you a secret: my limit is {said(limit)}.",
            f"<action>accept</action><price>{price}</price>",
            "".join(rng.choice("<>$0123456789 abc/\n") for _ in range(rng.randint(0, 40))),
            RuntimeError("boom"),
        ]
    )


@pytest.mark.parametrize("seed", range(12))
@pytest.mark.parametrize("role", ["buyer", "seller"])
@pytest.mark.parametrize("mode", ["narrate", "llm"])
async def test_no_move_crosses_the_limit_and_no_text_names_it_whatever_the_model_writes(mode, role, seed):
    rng = random.Random(f"{mode}:{role}:{seed}")
    deltas: list[tuple[str, str]] = []
    provider = FakeProvider(respond=lambda request: wild_reply(rng, role))
    plan = await play(mode, provider, role=role, seed=seed, on_delta=lambda t, a, text, vis: deltas.append((vis, text)))
    limit = LIMITS[role]
    decision = plan.decision
    assert plan.text
    assert len(provider.requests) <= MAX_CALLS_PER_TURN
    if decision.action == "offer":
        assert within_limit(role, decision.price, limit) and decision.price != limit
    if decision.action == "accept":
        standing = SITUATIONS[role]()[0].standing_offer("buyer" if role == "seller" else "seller")
        assert standing is not None and decision.price == standing and within_limit(role, standing, limit)
    for text in (plan.text, "".join(text for visibility, text in deltas if visibility == "public")):
        assert not names(text, limit), text
