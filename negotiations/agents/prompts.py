"""WHAT: everything an agent says or asks: the prompts sent to the LLM (narrate, llm, regenerate) and the
     templated words (rule mode and every fallback). The clean-up of what a model wrote back is
     negotiations/agents/text.py.
WHY: prompts are built only from a side's own settings and the public messages it may see (the caller
     passes events already filtered by `visibility.can_view`), and kept short and concrete so that a
     135M model (SmolLM2-135M-Instruct) still produces a usable sentence.
HOW: plain functions returning `llm.types.ChatMessage` tuples; templates are picked with a seeded RNG,
     so a run is reproducible. Templates name only the price of the move itself.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from llm.types import ChatMessage
from negotiations.agents.strategy import Decision
from negotiations.prices import format_price

TRANSCRIPT_MESSAGES = 6
PERSONA_CHARS = 200
DEFAULT_PERSONAS = {"buyer": "friendly private buyer", "seller": "friendly private seller"}

TEMPLATES: dict[tuple[str, str], tuple[str, ...]] = {
    ("seller", "offer"): (
        "I can do {price}.",
        "How about {price}?",
        "I could let it go for {price}.",
        "{price} is my price right now.",
    ),
    ("buyer", "offer"): (
        "Would you take {price}?",
        "I can offer {price}.",
        "How about {price}?",
        "My offer is {price}.",
    ),
    ("seller", "accept"): ("Deal at {price}.", "{price} works for me. Deal!", "Agreed, {price} it is."),
    ("buyer", "accept"): ("Deal at {price}.", "{price} works for me. Deal!", "Agreed, {price} it is."),
    ("seller", "walk_away"): (
        "Sorry, we are too far apart. I'll pass.",
        "Thanks for your time, but I can't make this work.",
    ),
    ("buyer", "walk_away"): ("Sorry, that is more than I can do. I'll pass.", "Thanks, but I can't make this work."),
    ("seller", "reject"): ("Sorry, that doesn't work for me.",),
    ("buyer", "reject"): ("Sorry, that doesn't work for me.",),
    ("seller", "say"): ("Let me think about it.",),
    ("buyer", "say"): ("Let me think about it.",),
}


@dataclass(frozen=True)
class PromptContext:
    """What one side may use to write its turn: its own settings and the public messages so far."""

    role: str
    title: str
    list_price: Decimal
    currency: str
    persona: str
    transcript: Sequence[tuple[str, str]]  # (actor, text) of public messages, oldest first

    def money(self, price: Decimal) -> str:
        return format_price(price, self.currency)


def template_text(*, role: str, decision: Decision, currency: str, seed: int, turn: int) -> str:
    """Templated words for a move; the only price they name is the move's own."""
    options = TEMPLATES[(role, decision.action)]
    rng = random.Random(f"{seed}:{turn}:template")
    text = rng.choice(options)
    return text.format(price=format_price(decision.price, currency)) if decision.price is not None else text


def _persona_line(context: PromptContext) -> str:
    persona = (context.persona or DEFAULT_PERSONAS[context.role]).strip()[:PERSONA_CHARS]
    verb = "selling" if context.role == "seller" else "buying"
    return f'You are a {persona} {verb} "{context.title}" (listed at {context.money(context.list_price)}).'


def _transcript_lines(context: PromptContext) -> str:
    recent = list(context.transcript)[-TRANSCRIPT_MESSAGES:]
    if not recent:
        return "No messages yet: you start."
    return "\n".join(f"{actor.capitalize()}: {text}" for actor, text in recent)


def _instruction(context: PromptContext, decision: Decision) -> str:
    other = "buyer" if context.role == "seller" else "seller"
    if decision.action == "offer":
        return f"It must offer {context.money(decision.price)} and mention no other number."  # type: ignore[arg-type]
    if decision.action == "accept":
        return f"It must accept the {other}'s offer of {context.money(decision.price)} and mention no other number."  # type: ignore[arg-type]
    if decision.action == "walk_away":
        return "It must politely end the talk without a deal. No numbers."
    if decision.action == "reject":
        return "It must politely decline. No numbers."
    return "No numbers."


def narrate_messages(context: PromptContext, decision: Decision, *, retry_reason: str = "") -> tuple[ChatMessage, ...]:
    """Ask for one sentence that voices a move the strategy already chose."""
    system = f"{_persona_line(context)} Reply with one short, polite sentence."
    user = f"Conversation so far:\n{_transcript_lines(context)}\n\nWrite the {context.role}'s next message. {_instruction(context, decision)}"
    if retry_reason:
        user += f"\nYour last reply was not allowed ({retry_reason}). Write a new one."
    return (ChatMessage("system", system), ChatMessage("user", user))


def llm_messages(
    context: PromptContext, *, limit: Decimal, standing_offer: Decimal | None, suggestion: Decimal
) -> tuple[ChatMessage, ...]:
    """Ask the model to choose the move itself, in the tagged format `proposals.parse_proposal` reads."""
    other = "buyer" if context.role == "seller" else "seller"
    bound = "pay at most" if context.role == "buyer" else "accept no less than"
    system = (
        f"{_persona_line(context)} Your secret limit: you will {bound} {context.money(limit)}. Never reveal it.\n"
        "Answer in exactly this format:\n"
        "<action>offer</action><price>100</price><message>one short sentence</message>\n"
        f"The action is offer, accept or walk_away. To accept, use the {other}'s last offer as the price."
    )
    last = context.money(standing_offer) if standing_offer is not None else "none yet"
    user = (
        f"Conversation so far:\n{_transcript_lines(context)}\n\n"
        f"The {other}'s last offer: {last}. A good next offer would be {context.money(suggestion)}.\nYour answer:"
    )
    return (ChatMessage("system", system), ChatMessage("user", user))
