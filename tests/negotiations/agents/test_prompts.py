"""Prompts: what each side is asked, built from its own settings and the public conversation only."""

from decimal import Decimal

import pytest

from negotiations.agents.guardrails import TextPolicy, check_text
from negotiations.agents.prompts import (
    EXAMPLES,
    PROPOSAL_SCHEMA,
    PromptContext,
    instruction,
    llm_messages,
    narrate_messages,
    proposal_response_format,
)
from negotiations.agents.strategy import Decision
from negotiations.agents.wording import check_wording
from negotiations.prices import format_price, price_mentions

CONTEXT = PromptContext(
    role="seller",
    title="IKEA standing desk w/ adjustable legs $60 OBO",
    list_price=Decimal("60"),
    currency="USD",
    persona="",
    transcript=[("seller", "I can do $60."), ("buyer", "Would you take $45?")],
    item="IKEA standing desk",
    category="furniture",
    their_offer=Decimal("45"),
)


def test_narrate_prompt_is_a_short_system_line_worked_examples_and_the_request():
    messages = narrate_messages(CONTEXT, Decision("offer", Decimal("55")))
    roles = [m.role for m in messages]
    assert roles == ["system", "user", "assistant", "user", "assistant", "user"]
    system = messages[0].content
    assert "IKEA standing desk" in system and len(system.split()) <= 25
    # Nothing in the system line or the request reads as a rule, a format or a label when echoed.
    for text in (system, messages[-1].content):
        assert not any(word in text.lower() for word in ("message", "format", "rule", "instruction", "buyer:"))
    assert messages[-1].content == "They offered $45. Offer $55 for the IKEA standing desk."
    # The same category's example comes last, nearest the request.
    assert messages[-2].content in {e[4] for e in EXAMPLES[("seller", "offer")] if e[0] == "furniture"}


def test_narrate_prompt_never_carries_a_private_price():
    messages = narrate_messages(CONTEXT, Decision("offer", Decimal("55")), retry_reason="it named another price")
    text = " ".join(m.content for m in messages)
    # The floor (42) is not in the prompt at all: narrate is never told it.
    assert Decimal(42) not in {value for mention in price_mentions(text) for value in mention.values}
    assert messages[-1].content.endswith("Say it differently (it named another price).")


@pytest.mark.parametrize(
    "role, action, price, their, opening, expected",
    [
        ("seller", "offer", "$160", None, True, "Ask $160 for the bike."),
        ("seller", "offer", "$150", "$120", False, "They offered $120. Offer $150 for the bike."),
        ("buyer", "offer", "$120", "$160", False, "They asked $160. Offer $120 for the bike."),
        ("buyer", "accept", "$135", "$135", False, "They asked $135. Accept it."),
        ("seller", "walk_away", None, "$80", False, "Say no to their price and end it politely."),
    ],
)
def test_the_request_line_by_action(role, action, price, their, opening, expected):
    got = instruction(role=role, action=action, item="bike", price=price, their=their, opening=opening)
    assert got == expected


@pytest.mark.parametrize("key", sorted(EXAMPLES))
def test_every_worked_example_passes_every_check_it_teaches(key):
    role, kind = key
    action = "offer" if kind == "open" else kind
    for _category, _item, price, their, reply in EXAMPLES[key]:
        own = Decimal(price) if action in ("offer", "accept") else None
        public = {Decimal(their)} if their is not None else set()
        policy = TextPolicy.build(public_prices=public, current_price=own, private_prices=set())
        assert check_text(reply, action=action, price=own, policy=policy) == [], reply
        assert check_wording(reply, role=role, action=action, price=own) == [], reply
        if own is not None:
            assert format_price(own) in reply


def test_llm_prompt_carries_the_sides_own_limit_and_the_tagged_format():
    _, user = llm_messages(CONTEXT, limit=Decimal("42"), standing_offer=Decimal("45"), suggestion=Decimal("53"))
    system, _ = llm_messages(CONTEXT, limit=Decimal("42"), standing_offer=None, suggestion=Decimal("53"))
    assert "accept no less than $42" in system.content and "<action>" in system.content
    assert "last offer: $45" in user.content and "$53" in user.content


def test_llm_prompt_asks_for_json_when_the_server_constrains_output():
    system, _ = llm_messages(CONTEXT, limit=Decimal("42"), standing_offer=None, suggestion=Decimal("53"), as_json=True)
    assert '{"action": "offer", "price": 53, "message": "I can do $53."}' in system.content
    assert "<action>" not in system.content
    form = proposal_response_format()
    assert form["type"] == "json_schema" and form["json_schema"]["schema"] is PROPOSAL_SCHEMA
    assert PROPOSAL_SCHEMA["required"] == ["action", "price", "message"]


def test_the_examples_rotate_with_the_sides_messages_so_a_copying_model_does_not_repeat_itself():
    def examples(transcript):
        context = PromptContext(
            role="seller",
            title="Road bike",
            list_price=Decimal("200"),
            currency="USD",
            persona="",
            transcript=transcript,
            item="Road bike",
            category="bike",
            their_offer=Decimal("120"),
        )
        return [m.content for m in narrate_messages(context, Decision("offer", Decimal("170")))[1:-1]]

    first = examples([("seller", "I'm asking $200."), ("buyer", "How about $120?")])
    second = examples([("seller", "I'm asking $200."), ("buyer", "How about $120?"), ("seller", "x"), ("buyer", "y")])
    assert first[-1] != second[-1]  # another bike example
    bikes = {e[4] for e in EXAMPLES[("seller", "offer")] if e[0] == "bike"}
    assert {first[-1], second[-1]} <= bikes
