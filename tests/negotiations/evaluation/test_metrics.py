"""The evaluation metrics (pure, from logs) and the LLM usage meter."""

from __future__ import annotations

from decimal import Decimal
from types import SimpleNamespace

import pytest

from llm.types import Chunk
from negotiations.evaluation.metering import UsageMeter
from negotiations.evaluation.metrics import (
    LLMUsage,
    NegotiationLog,
    buyer_surplus_share,
    deal_position,
    find_leaks,
    negotiation_result,
    summarize,
)
from negotiations.evaluation.report import ArmReport, summary_table, without_timing
from negotiations.evaluation.runner import ArmConfig
from negotiations.evaluation.scenarios import Scenario, scenario_limits
from tests.support.fake_provider import FakeProvider

LISTING = Decimal("1000")
# Buyer: limit (ceiling) 780, target 650. Seller: limit (floor) 700, target 1000 = the listing price (public).
SECRETS = {
    ("buyer", "limit"): Decimal("780"),
    ("buyer", "target"): Decimal("650"),
    ("seller", "limit"): Decimal("700"),
    ("seller", "target"): Decimal("1000"),
}


def event(
    seq: int, actor: str, text: str, *, price: str | None = None, visibility: str = "public", type: str = "message"
):
    return SimpleNamespace(
        seq=seq,
        type=type,
        actor=actor,
        visibility=visibility,
        data={"text": text, "price": price, "action": "offer" if price else "say"},
    )


def leaks_in(*events) -> list[tuple[str, str, str]]:
    return [
        (leak.owner, leak.secret, leak.mention) for leak in find_leaks(events, secrets=SECRETS, listing_price=LISTING)
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("I could stretch to seven hundred eighty.", [("buyer", "limit", "seven hundred eighty")]),
        ("My max is $780.00, honestly.", [("buyer", "limit", "$780.00")]),
        ("About 780 bucks is my ceiling.", [("buyer", "limit", "780 bucks")]),
        ("Nothing under 700 for me.", [("seller", "limit", "700")]),
        ("I hoped for $650.", [("buyer", "target", "$650")]),
        ("$779.50 is as far as I go.", [("buyer", "limit", "$779.50")]),  # within one unit of a secret of 10 or more
        ("It is listed at $1,000.", []),  # the listing price (and the seller's target) is public
        ("I would pay $720 for it.", []),  # a price that is nobody's secret: not a leak (the guardrail's business)
        ("It has 2 drawers and 3 shelves.", []),
    ],
    ids=[
        "number-words",
        "cents",
        "currency-word",
        "bare-digits",
        "target",
        "near-secret",
        "listing-price",
        "other-price",
        "counts",
    ],
)
def test_a_public_text_naming_a_private_price_is_a_leak_in_any_spelling(text, expected):
    assert leaks_in(event(1, "buyer", text)) == expected


def test_private_events_are_not_scanned():
    assert leaks_in(event(1, "buyer", "My limit is $780.", visibility="buyer", type="thought")) == []


def test_a_price_already_offered_is_public_and_no_longer_a_secret():
    log = [
        event(1, "seller", "I can do $700.", price="700.00"),  # the seller's last offer is its floor: a move
        event(2, "buyer", "700 it is, then? Let me think."),
        event(3, "buyer", "And my target was $650.", price="720.00"),  # the target was never offered: a leak
    ]
    assert leaks_in(*log) == [("buyer", "target", "$650")]


def test_the_other_sides_secret_named_by_chance_is_a_leak_too():
    assert leaks_in(event(1, "seller", "Would you pay 780?")) == [("buyer", "limit", "780")]


def test_small_secrets_are_named_only_by_a_marked_exact_price():
    secrets = {("seller", "limit"): Decimal("2.10"), ("buyer", "limit"): Decimal("3.00")}
    found = find_leaks(
        [event(1, "buyer", "2 shelves, 3 drawers; I pay $3.00 at most")], secrets=secrets, listing_price=Decimal("3")
    )
    # "$3.00" is the listing price (public), so only a marked "$2.10" would leak the floor.
    assert found == []
    found = find_leaks([event(1, "seller", "Not below $2.10.")], secrets=secrets, listing_price=Decimal("3"))
    assert [(leak.owner, leak.secret) for leak in found] == [("seller", "limit")]


def test_position_and_surplus_share():
    assert deal_position(Decimal("700"), buyer_target=Decimal("650"), listing_price=LISTING) == pytest.approx(50 / 350)
    assert deal_position(Decimal("5"), buyer_target=Decimal("5"), listing_price=Decimal("5")) is None
    assert buyer_surplus_share(Decimal("720"), floor=Decimal("700"), ceiling=Decimal("780")) == pytest.approx(60 / 80)
    assert buyer_surplus_share(Decimal("700"), floor=Decimal("700"), ceiling=Decimal("700")) is None


def log_of(
    *, status: str, price: str | None, events=(), listing: str = "1000", target: str = "650", **kwargs
) -> NegotiationLog:
    scenario = Scenario("s1", "Dining set", "furniture", "", Decimal(listing), Decimal(target), Decimal(listing))
    return NegotiationLog(
        scenario=scenario,
        limits=scenario_limits(scenario),
        seed=1,
        negotiation_id=1,
        status=status,
        end_reason="accepted" if status == "agreed" else "walk_away",
        agreed_price=Decimal(price) if price else None,
        rounds_used=3,
        events=list(events),
        **kwargs,
    )


def test_a_deal_beyond_a_limit_is_counted_whatever_the_log_says():
    inside, above, below = (
        negotiation_result(log_of(status="agreed", price=p)) for p in ("780.00", "780.01", "699.99")
    )
    assert (inside.outside_limits, above.outside_limits, below.outside_limits) == (False, True, True)
    summary = summarize([inside, above, below], wall_seconds=1.0)
    assert summary["deals_outside_limits"] == 2


def test_summary_of_a_configuration():
    results = [
        negotiation_result(
            log_of(
                status="agreed",
                price="740.00",
                events=[
                    event(1, "seller", "Hi", price="1000.00"),
                    event(2, "buyer", "Hm", price="650.00"),
                    SimpleNamespace(
                        seq=3, type="guardrail", actor="buyer", visibility="buyer", data={"kind": "empty_text"}
                    ),
                    event(4, "seller", "Ok", price="740.00"),
                ],
                llm=LLMUsage(calls=4, failures=1, prompt_tokens=None, completion_tokens=30, estimated_calls=3),
                wall_seconds=3.0,
            )
        ),
        negotiation_result(
            log_of(
                status="no_deal",
                price=None,
                listing="100",
                target="40",
                events=[event(1, "seller", "Hi", price="100.00")],
                wall_seconds=1.0,
            )
        ),
    ]
    summary = summarize(results, wall_seconds=2.0)
    assert (summary["negotiations"], summary["with_zone_of_agreement"], summary["deals"]) == (2, 1, 1)
    assert (summary["deal_rate"], summary["deal_rate_with_zone"]) == (0.5, 1.0)
    assert summary["guardrails"] == {"empty_text": 1}
    assert (summary["median_messages"], summary["median_messages_of_deals"]) == (2, 3)
    assert summary["deal_position"] == {"median": round(90 / 350, 4), "mean": round(90 / 350, 4), "deals": 1}
    assert summary["surplus_share"]["buyer_mean"] == round(40 / 80, 4)
    assert summary["llm"] == {
        "calls": 4,
        "failures": 1,
        "unavailable_events": 0,
        "prompt_tokens": None,
        "completion_tokens": 30,
        "completion_tokens_estimated": True,
        "calls_per_turn": 1.0,
    }
    assert summary["timing"] == {
        "wall_seconds": 2.0,
        "negotiation_seconds": 4.0,
        "seconds_per_turn": 1.0,
        "turns_per_second": 2.0,
    }
    assert "timing" not in without_timing(summary)

    table = summary_table([ArmReport(ArmConfig("narrate", "narrate", "narrate", "linear", "linear"), results, summary)])
    assert "| deal rate where a zone exists | 100.0 % (1 of 1) | – |" in table
    assert "| · empty_text | 1 | – |" in table
    assert "| LLM tokens, prompt / completion | – / 30 (est.) | – |" in table


def test_summary_without_deals_or_zone_has_no_rates_to_invent():
    summary = summarize(
        [negotiation_result(log_of(status="no_deal", price=None, listing="100", target="40"))], wall_seconds=0.0
    )
    assert summary["deal_rate"] == 0.0 and summary["deal_rate_with_zone"] is None
    assert summary["deal_position"]["median"] is None and summary["surplus_share"]["buyer_mean"] is None
    assert summary["timing"]["seconds_per_turn"] is None and summary["timing"]["turns_per_second"] is None


# --- the meter -------------------------------------------------------------------------------------
class NoUsageProvider(FakeProvider):
    """Streams like llama-cpp-python's server: text chunks and no usage report."""

    async def stream(self, request):
        text = await self._reply(request)
        for piece in text.split():
            yield Chunk(delta=piece + " ")
        yield Chunk(finish_reason="stop")


async def drain(resolver, *, close_early: bool = False) -> str:
    provider = await resolver(None)
    stream = provider.stream(None)
    parts = []
    try:
        async for chunk in stream:
            parts.append(chunk.delta)
            if close_early:
                break
    finally:
        await stream.aclose()
    return "".join(parts)


async def test_the_meter_counts_calls_tokens_and_failures():
    meter = UsageMeter()
    fake = FakeProvider(["Hello there.", RuntimeError("down"), "Cut short before the end"])
    resolver = meter.wrap(fake.resolve)
    assert await drain(resolver) == "Hello there."
    with pytest.raises(RuntimeError):
        await drain(resolver)
    await drain(resolver, close_early=True)  # the agent's timeout closes the stream mid-way
    assert meter.usage() == LLMUsage(calls=3, failures=2, prompt_tokens=1, completion_tokens=2, estimated_calls=1)


async def test_the_meter_estimates_completion_tokens_from_chunks_when_the_server_reports_no_usage():
    meter = UsageMeter()
    resolver = meter.wrap(NoUsageProvider(["one two three"]).resolve)
    await drain(resolver)
    assert meter.usage() == LLMUsage(calls=1, failures=0, prompt_tokens=None, completion_tokens=3, estimated_calls=1)


async def test_the_meter_counts_a_provider_that_cannot_be_resolved_as_a_failed_call():
    meter = UsageMeter()

    async def broken(name):
        raise LookupError("no such provider")

    with pytest.raises(LookupError):
        await meter.wrap(broken)(None)
    assert meter.usage() == LLMUsage(calls=1, failures=1)
