"""WHAT: the prompts sent to the LLM: `narrate_messages` (voice a move the strategy chose) and
     `llm_messages` (choose the move, as JSON or in the tagged format). The words used without a model
     are negotiations/agents/phrases.py; the clean-up of a model's answer is negotiations/agents/text.py.
WHY: a 135M model copies what it is shown and echoes what it is told, so the narrate prompt is a short
     system line plus worked examples written for this project (by role, action and category) in the
     shape of the real request; nothing in it reads well when echoed into a transcript.
HOW: plain functions returning `llm.types.ChatMessage` tuples, built only from the side's own settings
     and the public messages it may see (the caller filters them with `visibility.can_view`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from llm.types import ChatMessage
from negotiations.agents.strategy import Decision
from negotiations.prices import format_price

__all__ = [
    "EXAMPLES",
    "PROPOSAL_SCHEMA",
    "PromptContext",
    "instruction",
    "llm_messages",
    "narrate_messages",
    "proposal_response_format",
]

TRANSCRIPT_MESSAGES = 6
PERSONA_CHARS = 200
EXAMPLES_PER_PROMPT = 2
DEFAULT_PERSONAS = {"buyer": "friendly private buyer", "seller": "friendly private seller"}


@dataclass(frozen=True)
class PromptContext:
    """What one side may use to write its turn: its own settings and the public messages so far."""

    role: str
    title: str
    list_price: Decimal
    currency: str
    persona: str
    transcript: Sequence[tuple[str, str]]  # (actor, text) of public messages, oldest first
    item: str = "item"  # the listing's short name (phrases.item_name)
    category: str = ""
    their_offer: Decimal | None = None  # the other side's standing offer

    def money(self, price: Decimal) -> str:
        return format_price(price, self.currency)


# Worked examples: (role, kind) -> (category, item, price, their price, reply). `kind` is the action, or
# "open" for a seller's first ask. Each reply names its own price the way people write it and nothing
# a guardrail would refuse; the instruction before it is built by `instruction`, like the real one.
EXAMPLES: dict[tuple[str, str], tuple[tuple[str, str, int, int | None, str], ...]] = {
    ("seller", "open"): (
        ("bike", "road bike", 160, None, "Hi! The road bike is still available. I'm asking $160."),
        ("furniture", "oak table", 450, None, "The oak table is in great shape. I'd like $450 for it."),
        ("car", "Honda Civic", 8500, None, "Thanks for asking! I'm asking $8,500 for the Honda Civic."),
        ("housing", "apartment", 2100, None, "The apartment is still open. The rent is $2,100 a month."),
        ("phone", "iPhone", 300, None, "The iPhone works perfectly and I'm asking $300."),
        ("electronics", "speakers", 120, None, "The speakers sound great. I'm asking $120 for them."),
    ),
    ("seller", "offer"): (
        ("bike", "road bike", 150, 120, "That's a little low. I could do $150 for the road bike."),
        ("furniture", "oak table", 420, 300, "It's solid oak, so the best I can do is $420."),
        ("car", "Honda Civic", 8200, 7000, "It runs great and has new tires. I can come down to $8,200."),
        ("housing", "apartment", 2050, 1800, "I can do $2,050 a month if you sign this week."),
        ("phone", "iPhone", 285, 220, "It's barely used. How about $285?"),
        ("electronics", "speakers", 110, 80, "I could let them go for $110."),
        ("bike", "road bike", 140, 125, "We're close. Meet me at $140 and the road bike is yours."),
        ("furniture", "oak table", 390, 340, "I can come down a little more, to $390."),
        ("car", "Honda Civic", 7900, 7400, "I've just had it serviced. Would $7,900 work for you?"),
        ("housing", "apartment", 1975, 1900, "Utilities are included, so $1,975 is a fair rent."),
        ("phone", "iPhone", 270, 240, "It comes with the charger and a case. I'd take $270."),
        ("electronics", "speakers", 100, 90, "Okay, $100 and you can pick them up tonight."),
    ),
    ("buyer", "offer"): (
        ("bike", "road bike", 120, 160, "Would you take $120 for the road bike? I can pick it up today."),
        ("furniture", "oak table", 320, 450, "I love the oak table. Could you do $320?"),
        ("car", "Honda Civic", 7200, 8500, "I like the Civic, but $7,200 is what I can pay."),
        ("housing", "apartment", 1850, 2100, "I'm very interested. Would you consider $1,850 a month?"),
        ("phone", "iPhone", 230, 300, "Would you take $230 cash for the iPhone?"),
        ("electronics", "speakers", 85, 120, "I can offer $85 for the speakers."),
        ("bike", "road bike", 130, 150, "That's still a bit much for me. How about $130?"),
        ("furniture", "oak table", 350, 420, "I'd have to move it myself. Would $350 work?"),
        ("car", "Honda Civic", 7500, 8200, "It needs new brakes soon, so I could do $7,500."),
        ("housing", "apartment", 1925, 2050, "I can sign a one-year lease at $1,925 a month."),
        ("phone", "iPhone", 250, 285, "I can meet you halfway at $250."),
        ("electronics", "speakers", 95, 110, "Let's say $95 and I'll come by today."),
    ),
    ("seller", "accept"): (
        ("bike", "road bike", 140, 140, "Deal! $140 for the road bike it is."),
        ("furniture", "oak table", 400, 400, "Okay, I accept $400. When can you pick it up?"),
        ("car", "Honda Civic", 7900, 7900, "You've got a deal at $7,900."),
    ),
    ("buyer", "accept"): (
        ("bike", "road bike", 135, 135, "Deal, I'll take the road bike for $135."),
        ("furniture", "oak table", 380, 380, "Sounds good, I accept $380."),
        ("car", "Honda Civic", 7800, 7800, "Agreed, $7,800. When can I come by?"),
    ),
    ("seller", "walk_away"): (
        ("bike", "road bike", 0, 80, "Sorry, that's too low for the road bike. I'll pass."),
        ("furniture", "oak table", 0, 200, "Thanks, but I can't go that low. Good luck with your search."),
    ),
    ("buyer", "walk_away"): (
        ("bike", "road bike", 0, 150, "Thanks, but that's more than I can spend. I'll pass."),
        ("furniture", "oak table", 0, 430, "Sorry, that's out of my range. Thanks for your time."),
    ),
    ("seller", "reject"): (("bike", "road bike", 0, 80, "Sorry, that doesn't work for me."),),
    ("buyer", "reject"): (("bike", "road bike", 0, 150, "Sorry, that's too much for me."),),
    ("seller", "say"): (("bike", "road bike", 0, None, "Let me think about it for a moment."),),
    ("buyer", "say"): (("bike", "road bike", 0, None, "Let me think about it for a moment."),),
}


def _kind(role: str, decision: Decision, their_offer: Decimal | None) -> str:
    return "open" if role == "seller" and decision.action == "offer" and their_offer is None else decision.action


def instruction(
    *, role: str, action: str, item: str, price: str | None, their: str | None, opening: bool = False
) -> str:
    """The one-line request: what to say now, with the prices spelled as they must be written."""
    if action == "offer" and opening:
        return f"Ask {price} for the {item}."
    if action == "offer":
        verb = "asked" if role == "buyer" else "offered"
        before = f"They {verb} {their}. " if their else ""
        return f"{before}Offer {price} for the {item}."
    if action == "accept":
        verb = "asked" if role == "buyer" else "offered"
        return f"They {verb} {price}. Accept it."
    if action == "walk_away":
        return "Say no to their price and end it politely."
    if action == "reject":
        return "Decline their price politely."
    return f"Say something friendly about the {item}."


def _examples(role: str, kind: str, category: str, variant: int) -> list[tuple[str, str, int, int | None, str]]:
    """Worked examples for the request, the same category's last (nearest the request); `variant` (the
    side's messages so far) rotates them, so that a model copying its examples does not repeat itself."""
    options = EXAMPLES[(role, kind)]
    same = [e for e in options if e[0] == category]
    rest = [e for e in options if e[0] != category]
    picked = [rest[variant % len(rest)]] if rest else []
    if same:
        picked.append(same[variant % len(same)])
    return picked[-EXAMPLES_PER_PROMPT:]


def _system(context: PromptContext) -> str:
    persona = (context.persona or DEFAULT_PERSONAS[context.role]).strip()[:PERSONA_CHARS]
    verb = "selling" if context.role == "seller" else "buying"
    return f"You are a {persona} {verb} a {context.item} on Craigslist. Write one or two short sentences."


def narrate_messages(context: PromptContext, decision: Decision, *, retry_reason: str = "") -> tuple[ChatMessage, ...]:
    """Ask for a short message voicing a move the strategy already chose: a system line, worked examples
    as earlier turns, then the request. `retry_reason` (generic, never the rejected text) asks again."""
    kind = _kind(context.role, decision, context.their_offer)
    messages = [ChatMessage("system", _system(context))]
    variant = sum(1 for actor, _ in context.transcript if actor == context.role)
    for _category, item, price, their, reply in _examples(context.role, kind, context.category, variant):
        money, their_money = format_price(Decimal(price)), None if their is None else format_price(Decimal(their))
        if decision.action == "accept":
            money = their_money
        ask = instruction(
            role=context.role, action=decision.action, item=item, price=money, their=their_money, opening=kind == "open"
        )
        messages += [ChatMessage("user", ask), ChatMessage("assistant", reply)]
    their = None if context.their_offer is None else context.money(context.their_offer)
    price = None if decision.price is None else context.money(decision.price)
    ask = instruction(
        role=context.role, action=decision.action, item=context.item, price=price, their=their, opening=kind == "open"
    )
    if retry_reason:
        ask += f" Say it differently ({retry_reason})."
    messages.append(ChatMessage("user", ask))
    return tuple(messages)


# The move an `llm`-mode side proposes, as JSON: for servers that constrain their output to a schema.
PROPOSAL_SCHEMA = {
    "type": "object",
    "properties": {
        "action": {"type": "string", "enum": ["offer", "accept", "walk_away"]},
        "price": {"type": "number"},
        "message": {"type": "string", "maxLength": 120},
    },
    "required": ["action", "price", "message"],
    "additionalProperties": False,
}


def proposal_response_format() -> dict:
    """The OpenAI `response_format` asking for a proposal that matches PROPOSAL_SCHEMA."""
    return {"type": "json_schema", "json_schema": {"name": "proposal", "strict": True, "schema": PROPOSAL_SCHEMA}}


def _transcript_lines(context: PromptContext) -> str:
    recent = list(context.transcript)[-TRANSCRIPT_MESSAGES:]
    if not recent:
        return "No messages yet: you start."
    return "\n".join(f"{actor.capitalize()}: {text}" for actor, text in recent)


def llm_messages(
    context: PromptContext,
    *,
    limit: Decimal,
    standing_offer: Decimal | None,
    suggestion: Decimal,
    as_json: bool = False,
) -> tuple[ChatMessage, ...]:
    """Ask the model to choose the move itself: as a JSON object (`as_json`, for a server that enforces
    PROPOSAL_SCHEMA) or in the tagged format `proposals.parse_proposal` also reads."""
    other = "buyer" if context.role == "seller" else "seller"
    bound = "pay at most" if context.role == "buyer" else "accept no less than"
    # The example is the suggested move itself: a small model copies the example it is shown.
    amount = f"{suggestion:f}".rstrip("0").rstrip(".") if "." in f"{suggestion:f}" else f"{suggestion:f}"
    said = f"I can do {context.money(suggestion)}."
    shape = (
        f'{{"action": "offer", "price": {amount}, "message": "{said}"}}'
        if as_json
        else f"<action>offer</action><price>{amount}</price><message>{said}</message>"
    )
    system = (
        f'{_system(context)} The listing "{context.title}" asks {context.money(context.list_price)}. '
        f"Your secret limit: you will {bound} {context.money(limit)}. Never reveal it.\n"
        f"Answer in exactly this format:\n{shape}\n"
        f"The action is offer, accept or walk_away. To accept, use the {other}'s last offer as the price."
    )
    last = context.money(standing_offer) if standing_offer is not None else "none yet"
    user = (
        f"Conversation so far:\n{_transcript_lines(context)}\n\n"
        f"The {other}'s last offer: {last}. A good next offer would be {context.money(suggestion)}.\nYour answer:"
    )
    return (ChatMessage("system", system), ChatMessage("user", user))
