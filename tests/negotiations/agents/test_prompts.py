"""Prompts and templates: what each side is asked, and the words used when no model writes them."""

from decimal import Decimal

import pytest

from negotiations.agents.prompts import TEMPLATES, PromptContext, llm_messages, narrate_messages, template_text
from negotiations.agents.strategy import Decision
from negotiations.prices import price_mentions

CONTEXT = PromptContext(
    role="seller",
    title="Desk",
    list_price=Decimal("60"),
    currency="USD",
    persona="",
    transcript=[("seller", "I can do $60."), ("buyer", "Would you take $45?")],
)


@pytest.mark.parametrize("key", sorted(TEMPLATES))
def test_templates_name_no_price_but_the_moves_own(key):
    role, action = key
    decision = Decision(action, Decimal("123.45") if action in ("offer", "accept") else None)  # type: ignore[arg-type]
    for seed in range(6):
        text = template_text(role=role, decision=decision, currency="USD", seed=seed, turn=3)
        values = {v for m in price_mentions(text) for v in m.values}
        assert values <= {Decimal("123.45")}


def test_narrate_prompt_names_the_move_and_the_public_conversation_only():
    system, user = narrate_messages(CONTEXT, Decision("offer", Decimal("53.42")))
    assert "Desk" in system.content and "$60" in system.content
    assert "Buyer: Would you take $45?" in user.content and "offer $53.42" in user.content


def test_llm_prompt_carries_the_sides_own_limit_and_the_tagged_format():
    _, user = llm_messages(CONTEXT, limit=Decimal("42"), standing_offer=Decimal("45"), suggestion=Decimal("53.42"))
    system, _ = llm_messages(CONTEXT, limit=Decimal("42"), standing_offer=None, suggestion=Decimal("53.42"))
    assert "accept no less than $42" in system.content and "<action>" in system.content
    assert "last offer: $45" in user.content and "$53.42" in user.content
