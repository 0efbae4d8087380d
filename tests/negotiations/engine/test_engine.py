"""The engine, service level, with a scripted LLM: deals, walk-aways, the round limit, no zone of
agreement, cancel, resume after interruptions, LLM failures, and what each side's prompt may contain."""

from __future__ import annotations

import asyncio
import json
import re
from decimal import Decimal

import pytest
from asgiref.sync import sync_to_async
from django.db import connection, connections

from llm.exceptions import ProviderUnavailableError
from negotiations.agents.phrases import PHRASES, phrase_matches
from negotiations.agents.wording import check_wording
from negotiations.engine.asyncio_runner import AsyncioRunner
from negotiations.engine.engine import NegotiationEngine
from negotiations.live.broadcast import TokenDelta, get_broadcaster
from negotiations.models import Event, Negotiation, Participant
from negotiations.prices import format_price
from negotiations.services import negotiation_cancel
from tests.support.fake_provider import Crash, FakeProvider, Stall, prompt_of
from tests.support.negotiations import (
    guardrails,
    make_listing,
    make_negotiation,
    messages,
    narrated_move,
    play,
    price,
    reload,
)

pytestmark = pytest.mark.django_db(transaction=True)

BUYER_LIMIT, SELLER_FLOOR = Decimal("450.00"), Decimal("350.00")


def polite(request) -> str:
    """A well-behaved narrator: says exactly the move it was asked to voice."""
    move = narrated_move(request)
    if move and move[0] == "offer":
        return f"I can do {move[1]}."
    if move and move[0] == "accept":
        return f"Deal at {move[1]}."
    return "Sorry, I will pass on this one."


def log(events: list[Event]) -> list[tuple]:
    return [(e.seq, e.type, e.actor, e.visibility, e.data) for e in events]


def final(negotiation: Negotiation) -> tuple:
    return (negotiation.status, negotiation.agreed_price, negotiation.end_reason, negotiation.rounds_used)


def assert_well_formed(negotiation: Negotiation, events: list[Event]) -> None:
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    turns = [e.data["turn"] for e in messages(events)]
    assert turns == list(range(1, len(turns) + 1)), "each turn logged exactly once, in order"
    assert len(turns) <= 2 * negotiation.max_rounds
    assert negotiation.rounds_used <= negotiation.max_rounds
    if negotiation.is_finished:
        assert events[-1].type == Event.Type.OUTCOME and events[-2].type == Event.Type.STATUS


# --- outcomes ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("mode", ["rule", "narrate", "llm"])
async def test_a_deal_is_reached_within_both_limits(mode):
    negotiation, events = await play(FakeProvider(respond=polite), buyer={"mode": mode}, seller={"mode": mode})
    assert final(negotiation)[0::2] == ("agreed", "accepted")
    assert SELLER_FLOOR <= negotiation.agreed_price <= BUYER_LIMIT
    accept = messages(events)[-1]
    assert accept.data["action"] == "accept" and price(accept.data["price"]) == negotiation.agreed_price
    standing = [m for m in messages(events) if m.actor != accept.actor and m.data["action"] == "offer"][-1]
    assert standing.data["price"] == accept.data["price"], "only the other side's standing offer is accepted"
    assert events[-1].data == {
        "result": "agreed",
        "end_reason": "accepted",
        "agreed_price": accept.data["price"],
        "rounds_used": negotiation.rounds_used,
    }
    assert_well_formed(negotiation, events)


async def test_narrated_words_come_from_the_llm():
    negotiation, events = await play(
        FakeProvider(respond=polite), buyer={"mode": "narrate"}, seller={"mode": "narrate"}
    )
    first = messages(events)[0]
    assert first.data["text"] == f"I can do {format_price(price(first.data['price']))}."
    assert guardrails(events) == []


async def test_walks_away_at_the_deadline_when_no_offer_is_acceptable():
    negotiation, events = await play(buyer={"limit_price": "300.00"}, max_rounds=4)
    assert final(negotiation) == ("no_deal", None, "walk_away", 4)
    last = messages(events)[-1]
    assert (last.data["action"], last.data["turn"], last.actor) == ("walk_away", 8, "buyer")
    assert_well_formed(negotiation, events)


async def test_ends_at_the_round_limit_when_both_keep_countering():
    def stubborn(request):
        return (
            "<action>offer</action><price>100</price><message>$100.</message>"
            if "buying" in prompt_of(request)
            else "<action>offer</action><price>490</price><message>$490.</message>"
        )

    negotiation, events = await play(
        FakeProvider(respond=stubborn), buyer={"mode": "llm"}, seller={"mode": "llm"}, max_rounds=3
    )
    assert final(negotiation) == ("no_deal", None, "max_rounds", 3)
    assert len(messages(events)) == 6
    assert all(m.data["action"] == "offer" for m in messages(events))
    assert_well_formed(negotiation, events)


@pytest.mark.parametrize("mode", ["rule", "narrate", "llm"])
@pytest.mark.parametrize("opens", ["seller", "buyer"])
@pytest.mark.parametrize("strategy", ["boulware", "conceder"])
async def test_no_zone_of_agreement_never_ends_in_a_deal(mode, opens, strategy):
    def eager(request):  # an LLM that tries to accept whatever is on the table
        return "<action>accept</action><message>Deal!</message>" if mode == "llm" else polite(request)

    side = {"mode": mode, "strategy": strategy}
    negotiation, events = await play(
        FakeProvider(respond=eager), buyer={**side, "limit_price": "340.00"}, seller=side, opens=opens, max_rounds=5
    )
    assert negotiation.status == "no_deal"
    assert negotiation.agreed_price is None
    assert not [m for m in messages(events) if m.data["action"] == "accept"]
    assert_well_formed(negotiation, events)


# --- cancel ------------------------------------------------------------------------------------------
async def test_cancel_mid_run_stops_the_task_and_logs_only_the_cancellation():
    provider = FakeProvider(respond=lambda r: Stall(30) if len(provider.requests) >= 4 else polite(r))
    runner = AsyncioRunner(engine_factory=lambda: NegotiationEngine(provider_resolver=provider.resolve))
    negotiation, _ = await sync_to_async(make_negotiation)(buyer={"mode": "narrate"}, seller={"mode": "narrate"})
    task = runner.start(negotiation.pk)
    async with asyncio.timeout(5):
        while len(provider.requests) < 4:
            await asyncio.sleep(0.01)
    await sync_to_async(negotiation_cancel)(negotiation=negotiation, runner=runner)
    await runner.join(negotiation.pk, timeout=5)
    assert task.cancelled()
    negotiation, events = await reload(negotiation.pk)
    assert final(negotiation) == ("cancelled", None, "cancelled", 2)
    assert [(e.type, e.data.get("status", e.data.get("result"))) for e in events[-2:]] == [
        ("status", "cancelled"),
        ("outcome", "cancelled"),
    ]
    assert len(messages(events)) == 3
    assert_well_formed(negotiation, events)


async def test_a_cancel_from_another_process_drops_the_turn_being_played():
    release = asyncio.Event()

    class Gated(FakeProvider):
        async def _reply(self, request):
            if len(self.requests) == 2:
                await release.wait()
            return await super()._reply(request)

    provider = Gated(respond=polite)
    negotiation, _ = await sync_to_async(make_negotiation)(buyer={"mode": "narrate"}, seller={"mode": "narrate"})
    run = asyncio.create_task(NegotiationEngine(provider_resolver=provider.resolve).run(negotiation.pk))
    async with asyncio.timeout(5):
        while len(provider.requests) < 2:
            await asyncio.sleep(0.01)

    class ElsewhereRunner:  # the engine runs in "another process": this runner cannot reach it
        def submit(self, negotiation_id): ...
        def cancel(self, negotiation_id): ...
        def is_active(self, negotiation_id):
            return False

    await sync_to_async(negotiation_cancel)(negotiation=negotiation, runner=ElsewhereRunner())
    release.set()
    result = await asyncio.wait_for(run, 5)
    negotiation, events = await reload(negotiation.pk)
    assert result.status == "cancelled"
    assert events[-1].type == Event.Type.OUTCOME and events[-1].data["result"] == "cancelled"
    assert len(messages(events)) == 2, "the turn in flight at cancel time was dropped"


# --- resume ------------------------------------------------------------------------------------------
async def uninterrupted(**kwargs) -> tuple[Negotiation, list[Event]]:
    return await play(FakeProvider(respond=polite), **kwargs)


SIDES = {"buyer": {"mode": "narrate", "strategy": "boulware"}, "seller": {"mode": "llm", "strategy": "conceder"}}


def llm_or_polite(request):
    """Deterministic: the seller (llm mode) proposes the suggested offer; narration is polite."""
    prompt = prompt_of(request)
    suggested = re.search(r"A good next offer would be \$([\d,]+(?:\.\d\d)?)", prompt)
    if suggested:
        return f"<action>offer</action><price>{suggested.group(1)}</price><message>How about ${suggested.group(1)}?</message>"
    return polite(request)


async def test_resume_between_turns_loses_and_duplicates_nothing():
    expected, expected_events = await play(FakeProvider(respond=llm_or_polite), **SIDES, seed=11)
    negotiation, _ = await sync_to_async(make_negotiation)(**SIDES, seed=11)
    first = await NegotiationEngine(provider_resolver=FakeProvider(respond=llm_or_polite).resolve).run(
        negotiation.pk, max_turns=3
    )
    assert first.turns_played == 3 and first.status == "running"
    # A new engine (a restarted process) picks up from the log.
    await NegotiationEngine(provider_resolver=FakeProvider(respond=llm_or_polite).resolve).run(negotiation.pk)
    negotiation, events = await reload(negotiation.pk)
    assert log(events) == log(expected_events)
    assert final(negotiation) == final(expected)


@pytest.mark.parametrize("crash_at_call", [1, 4, 7])
async def test_resume_after_a_crash_in_the_middle_of_a_turn(crash_at_call):
    expected, expected_events = await play(FakeProvider(respond=llm_or_polite), **SIDES, seed=11)
    negotiation, _ = await sync_to_async(make_negotiation)(**SIDES, seed=11)
    calls = []

    def crashing(request):
        calls.append(1)
        return Crash() if len(calls) == crash_at_call else llm_or_polite(request)

    with pytest.raises(Crash):
        await NegotiationEngine(provider_resolver=FakeProvider(respond=crashing).resolve).run(negotiation.pk)
    await NegotiationEngine(provider_resolver=FakeProvider(respond=llm_or_polite).resolve).run(negotiation.pk)
    negotiation, events = await reload(negotiation.pk)
    assert log(events) == log(expected_events)
    assert final(negotiation) == final(expected)


@pytest.mark.parametrize("crash_at_turn", [1, 5])
async def test_resume_after_a_crash_inside_the_turn_transaction(crash_at_turn):
    expected, expected_events = await play(FakeProvider(respond=llm_or_polite), **SIDES, seed=11)
    negotiation, _ = await sync_to_async(make_negotiation)(**SIDES, seed=11)
    inserts = []

    def die_after_the_insert(execute, sql, params, many, context):
        result = execute(sql, params, many, context)
        if sql.startswith('INSERT INTO "negotiations_event"'):
            inserts.append(sql)
            if len(inserts) == crash_at_turn:
                raise Crash()  # the rows are written, the transaction is not committed
        return result

    # The engine writes from asgiref's thread-sensitive worker; wrap that thread's connection.
    await sync_to_async(lambda: connection.execute_wrappers.append(die_after_the_insert))()
    try:
        with pytest.raises(Crash):
            await NegotiationEngine(provider_resolver=FakeProvider(respond=llm_or_polite).resolve).run(negotiation.pk)
    finally:
        await sync_to_async(lambda: connection.execute_wrappers.remove(die_after_the_insert))()
    _, partial = await reload(negotiation.pk)
    assert len(messages(partial)) == crash_at_turn - 1, "the crashed turn was rolled back whole"
    await NegotiationEngine(provider_resolver=FakeProvider(respond=llm_or_polite).resolve).run(negotiation.pk)
    negotiation, events = await reload(negotiation.pk)
    assert log(events) == log(expected_events)
    assert final(negotiation) == final(expected)


async def test_two_engines_on_one_negotiation_never_write_a_turn_twice(caplog):
    caplog.set_level("INFO", logger="negotiations.engine.engine")
    expected, expected_events = await play(FakeProvider(respond=llm_or_polite), **SIDES, seed=11)
    negotiation, _ = await sync_to_async(make_negotiation)(**SIDES, seed=11)
    engines = [NegotiationEngine(provider_resolver=FakeProvider(respond=llm_or_polite).resolve) for _ in range(2)]
    await asyncio.gather(*(engine.run(negotiation.pk) for engine in engines))
    negotiation, events = await reload(negotiation.pk)
    assert log(events) == log(expected_events)
    assert "was written elsewhere" in caplog.text, "the engines did race for the same turn"


# --- LLM failures ------------------------------------------------------------------------------------
async def test_an_llm_timeout_falls_back_to_templated_words():
    provider = FakeProvider([Stall(10)], respond=None)
    negotiation, _ = await sync_to_async(make_negotiation)(
        buyer={"mode": "narrate"}, seller={"mode": "narrate"}, max_rounds=2
    )
    await NegotiationEngine(provider_resolver=provider.resolve, llm_timeout=0.2).run(negotiation.pk)
    negotiation, events = await reload(negotiation.pk)
    assert negotiation.is_finished and negotiation.status != "failed"
    [timeout] = guardrails(events, "llm_unavailable")
    assert (timeout.actor, timeout.visibility, timeout.data["error_code"]) == ("seller", "seller", "LLM_TIMEOUT")
    first = messages(events)[0]
    assert any(phrase_matches(p, first.data["text"]) for p in PHRASES[("seller", "open")])
    assert format_price(price(first.data["price"])) in first.data["text"]


async def test_a_provider_error_falls_back_to_templated_words_and_the_negotiation_goes_on():
    provider = FakeProvider(respond=lambda r: ProviderUnavailableError("No models loaded"))
    negotiation, events = await play(provider, buyer={"mode": "llm"}, seller={"mode": "narrate"})
    assert negotiation.status == "agreed"
    failures = guardrails(events, "llm_unavailable")
    assert len(failures) == len(messages(events))
    assert {f.data["error_code"] for f in failures} == {"LLM_UNAVAILABLE"}


async def test_an_unknown_provider_at_run_time_falls_back_too():
    async def resolver(name):
        from llm.exceptions import UnknownProviderError

        raise UnknownProviderError("gone")

    negotiation, _ = await sync_to_async(make_negotiation)(buyer={"mode": "narrate"}, seller={"mode": "narrate"})
    await NegotiationEngine(provider_resolver=resolver).run(negotiation.pk)
    negotiation, events = await reload(negotiation.pk)
    assert negotiation.status == "agreed"
    assert {g.data["error_code"] for g in guardrails(events)} == {"LLM_UNKNOWN_PROVIDER"}


async def test_corrupt_settings_mark_the_negotiation_failed_instead_of_hanging():
    negotiation, _ = await sync_to_async(make_negotiation)()
    await Participant.objects.filter(negotiation=negotiation, role="buyer").aupdate(strategy="titfortat")
    result = await NegotiationEngine(provider_resolver=FakeProvider().resolve).run(negotiation.pk)
    negotiation, events = await reload(negotiation.pk)
    assert result.status == negotiation.status == "failed"
    assert events[-1].data == {"result": "failed", "end_reason": "error", "agreed_price": None, "rounds_used": 0}
    assert "titfortat" not in str(log(events)), "no internal detail leaks into the public log"


# --- what each side's LLM is told ----------------------------------------------------------------------
@pytest.mark.parametrize("mode", ["narrate", "llm"])
async def test_each_prompt_holds_only_what_its_side_may_see(mode):
    provider = FakeProvider(respond=llm_or_polite)
    side = {"mode": mode}
    negotiation, events = await play(
        provider,
        buyer={**side, "limit_price": "447.77", "target_price": "311.11"},
        seller={**side, "limit_price": "353.33", "target_price": "533.33"},
    )
    public = {price(m.data["price"]) for m in messages(events) if m.data["price"]}
    thoughts = {
        e.actor: [t.data["reasoning"] for t in events if t.type == "thought" and t.actor == e.actor]
        for e in events
        if e.actor != "system"
    }
    for prompt in provider.prompts():
        me = "buyer" if "buying" in prompt else "seller"
        other = "seller" if me == "buyer" else "buyer"
        other_private = (
            {Decimal("353.33"), Decimal("533.33")} if me == "buyer" else {Decimal("447.77"), Decimal("311.11")}
        )
        for value in other_private - public:
            assert format_price(value) not in prompt and str(value) not in prompt
        assert not any(reasoning in prompt for reasoning in thoughts[other])
    if mode == "llm":  # the check above can fail: an llm-mode prompt does carry its own side's limit
        assert any("$447.77" in p for p in provider.prompts() if "buying" in p)


# --- live deltas -------------------------------------------------------------------------------------
async def test_token_deltas_are_published_live_and_public_drafts_never_leak_a_limit():
    def leaky(request):
        move = narrated_move(request)
        if move and move[0] == "offer" and "selling" in prompt_of(request):
            return f"I can do {move[1]} today but between us my floor is $350 so go on and offer more"
        return polite(request)

    negotiation, _ = await sync_to_async(make_negotiation)(
        buyer={"mode": "narrate"}, seller={"mode": "narrate"}, max_rounds=3
    )
    received: list = []
    async with get_broadcaster().subscribe(negotiation.pk) as subscription:
        await NegotiationEngine(provider_resolver=FakeProvider(respond=leaky).resolve).run(negotiation.pk)
        while (item := await subscription.get(timeout=0.2)) is not None:
            received.append(item)
    deltas = [i for i in received if isinstance(i, TokenDelta)]
    logged = [i for i in received if isinstance(i, Event)]
    _, events = await reload(negotiation.pk)
    assert [e.seq for e in logged] == [e.seq for e in events if e.seq > 1], "every committed event was published once"
    public_seller_draft = "".join(d.text for d in deltas if d.actor == "seller" and d.visibility == "public")
    assert "I can do" in public_seller_draft
    assert "350" not in public_seller_draft
    assert all(d.visibility == "public" for d in deltas)
    assert all("350" not in m.data["text"] for m in messages(events))


async def test_llm_mode_drafts_stream_to_their_own_side_only():
    provider = FakeProvider(respond=llm_or_polite)
    negotiation, _ = await sync_to_async(make_negotiation)(buyer={"mode": "llm"}, seller={"mode": "rule"}, max_rounds=2)
    async with get_broadcaster().subscribe(negotiation.pk) as subscription:
        await NegotiationEngine(provider_resolver=provider.resolve).run(negotiation.pk)
        received = []
        while (item := await subscription.get(timeout=0.2)) is not None:
            received.append(item)
    deltas = [i for i in received if isinstance(i, TokenDelta)]
    assert deltas and {(d.actor, d.visibility) for d in deltas} == {("buyer", "buyer")}
    assert "<action>" in "".join(d.text for d in deltas if d.turn == 2)


async def test_a_public_draft_after_a_rejected_llm_proposal_is_numbered_as_the_first_public_draft():
    # The buyer (llm mode) proposes something unreadable: its private draft is attempt 1, and the
    # narrated replacement that everyone watches must not be "attempt 2", which would tell the seller
    # that a proposal was rejected.
    def unreadable_then_polite(request):
        return "I dunno" if "Your answer" in prompt_of(request) else polite(request)

    negotiation, _ = await sync_to_async(make_negotiation)(buyer={"mode": "llm"}, seller={"mode": "rule"}, max_rounds=2)
    async with get_broadcaster().subscribe(negotiation.pk) as subscription:
        await NegotiationEngine(provider_resolver=FakeProvider(respond=unreadable_then_polite).resolve).run(
            negotiation.pk
        )
        received = []
        while (item := await subscription.get(timeout=0.2)) is not None:
            received.append(item)
    deltas = [i for i in received if isinstance(i, TokenDelta)]
    public = [d for d in deltas if d.visibility == "public"]
    private = [d for d in deltas if d.visibility == "buyer"]
    assert public and private, "both the private proposal and the public text were streamed"
    assert {d.attempt for d in public} == {1} and {d.attempt for d in private} == {1}


async def test_a_finished_run_leaves_no_database_connection_open_in_the_engines_thread():
    # The engine's database calls run in asgiref's shared sync thread, which no request cycle recycles.
    negotiation, _ = await sync_to_async(make_negotiation)(max_rounds=2)
    await NegotiationEngine(provider_resolver=FakeProvider().resolve).run(negotiation.pk)
    assert await sync_to_async(lambda: connections["default"].connection is None)()


# --- what a model may emit -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "reply",
    [
        "Sure\x00 thing, {price}.",
        "<action>offer</action><price>\x00400</price>\x00<message>bye\ud800</message>",
    ],
    ids=["narrate-text", "llm-proposal"],
)
async def test_control_characters_from_the_model_never_reach_the_log(reply):
    # PostgreSQL's jsonb refuses "\u0000" (and lone surrogates): one in a logged string would fail the
    # turn's transaction and the negotiation. On SQLite the same test proves they are stripped.
    provider = FakeProvider(respond=lambda request: reply.replace("{price}", "that"))
    mode = "llm" if "<action>" in reply else "narrate"
    negotiation, events = await play(provider, buyer={"mode": mode}, seller={"mode": mode}, max_rounds=2)
    assert negotiation.status in ("agreed", "no_deal")
    dumped = json.dumps([e.data for e in events])
    assert "\\u0000" not in dumped and "\\ud800" not in dumped
    assert any(m.data["text"] for m in messages(events))


async def test_a_title_whose_words_trip_a_check_is_named_by_its_category_in_the_phrases():
    # "Response Format Speakers" would read as talk about responses and formats: the phrases say "item".
    listing = await sync_to_async(make_listing)(title="Response Format Speakers", category="electronics")
    negotiation, events = await play(listing=listing)
    texts = [m.data["text"] for m in messages(events)]
    assert texts and not any("Response" in text for text in texts)
    for m in messages(events):
        found = check_wording(m.data["text"], role=m.actor, action=m.data["action"], price=price(m.data["price"]))
        assert found == [], (m.data["text"], found)
