"""WHAT: input validation for the negotiation services (listing fields, participant settings, rounds).
WHY: services are called by the API, the `negotiate` command and tests alike; each must reject bad
     input the same way — one RequestValidationError listing every problem — before anything is written.
HOW: `*_clean` functions return typed values or collect messages into an `Errors` map shaped like
     DRF's nested serializer errors ({"buyer": {"limit_price": ["..."]}}), raised once at the end.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.conf import settings

from llm.exceptions import LLMError, ProviderDisabledError, UnknownProviderError
from llm.registry import get_provider
from marketplace.errors import RequestValidationError
from negotiations.exceptions import PriceError
from negotiations.models import AgentMode, Role, Strategy
from negotiations.prices import parse_price

# Messages shared with the API's serializers (negotiations/api/views.py): a bad value reads the same whichever
# layer catches it (the API checks JSON types and bounds first; the services check every caller).
MSG_TOO_LONG = "Must be at most {max_length} characters."
MSG_NUMBER_REQUIRED = "A number is required."
MSG_BETWEEN = "Must be between {min_value} and {max_value}."
MAX_PROVIDER_CHARS = 64
TEMPERATURE_RANGE = (0, 2)


def msg_one_of(choices: list[str]) -> str:
    return f"Must be one of: {', '.join(choices)}."


# A side's settings, all private to that side (the API's `private` object shows them in this order).
PARTICIPANT_FIELDS = ("limit_price", "target_price", "persona", "strategy", "mode", "provider", "model", "temperature")
MAX_PERSONA_CHARS = 500
MAX_MODEL_CHARS = 200
MAX_TITLE_CHARS = 200
MAX_DESCRIPTION_CHARS = 5000
MAX_CATEGORY_CHARS = 50
# The largest value a bigint holds: ids, seqs and seeds beyond it cannot exist (and would overflow the
# database driver).
MAX_ID = 2**63 - 1
MAX_SEED = MAX_ID
# An id, seq or offset in a URL, header or query string: ASCII decimal digits only (no sign, spaces,
# exponent, fraction or other scripts' digits), few enough to be checked against MAX_ID.
DECIMAL_DIGITS = re.compile(r"[0-9]{1,19}")


class Errors(dict):
    """Field -> list of messages (nested dicts for nested objects)."""

    def add(self, path: tuple[str, ...], message: str) -> None:
        node: dict = self
        for key in path[:-1]:
            node = node.setdefault(key, {})
        node.setdefault(path[-1], []).append(message)

    def raise_if_any(self, message: str) -> None:
        if self:
            raise RequestValidationError(message, details={"fields": dict(self)})


@dataclass(frozen=True)
class ParticipantInput:
    role: str
    limit_price: Decimal
    target_price: Decimal | None
    persona: str
    strategy: str
    mode: str
    provider: str
    model: str
    temperature: float | None


def price_clean(value: Any, path: tuple[str, ...], errors: Errors, *, required: bool = True) -> Decimal | None:
    if value is None and not required:
        return None
    if value is None:
        errors.add(path, "This field is required.")
        return None
    try:
        return parse_price(value)
    except PriceError as exc:
        errors.add(path, f"Must be a valid price: {exc}.")
        return None


def text_clean(value: Any, path: tuple[str, ...], errors: Errors, *, max_chars: int, required: bool = False) -> str:
    if value is None:
        value = ""
    if not isinstance(value, str):
        errors.add(path, "Must be a string.")
        return ""
    value = value.strip()
    if "\x00" in value:  # PostgreSQL text columns cannot store it; the API's CharFields refuse it too
        errors.add(path, "Null characters are not allowed.")
    if required and not value:
        errors.add(path, "This field may not be blank.")
    if len(value) > max_chars:
        errors.add(path, MSG_TOO_LONG.format(max_length=max_chars))
    return value


def currency_clean(value: Any, errors: Errors) -> str:
    if not isinstance(value, str) or not re.fullmatch(r"[A-Za-z]{3}", value.strip()):
        errors.add(("currency",), "Must be a three-letter ISO 4217 code such as USD.")
        return "USD"
    return value.strip().upper()


def max_rounds_clean(value: Any, errors: Errors) -> int:
    cap = settings.NEGOTIATION_MAX_ROUNDS_CAP
    if value is None:
        return settings.NEGOTIATION_DEFAULT_MAX_ROUNDS
    if isinstance(value, bool) or not isinstance(value, int):
        errors.add(("max_rounds",), "Must be an integer.")
        return 0
    if not 1 <= value <= cap:
        errors.add(("max_rounds",), f"Must be between 1 and {cap}.")
    return value


def seed_clean(value: Any, errors: Errors) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_SEED:
        errors.add(("seed",), f"Must be an integer between 0 and {MAX_SEED}.")
        return None
    return value


def choice_clean(value: Any, path: tuple[str, ...], errors: Errors, *, choices: list[str], default: str) -> str:
    if value is None:
        return default
    if value not in choices:
        errors.add(path, msg_one_of(choices))
        return default
    return value


def participant_clean(role: str, raw: Any, errors: Errors) -> ParticipantInput | None:
    if not isinstance(raw, dict):
        errors.add((role,), "Must be an object.")
        return None
    for unknown in sorted(set(raw).difference(PARTICIPANT_FIELDS)):
        errors.add((role, unknown), "Unknown field.")
    limit = price_clean(raw.get("limit_price"), (role, "limit_price"), errors)
    target = price_clean(raw.get("target_price"), (role, "target_price"), errors, required=False)
    if limit is not None and target is not None:
        if role == Role.BUYER and target > limit:
            errors.add((role, "target_price"), "A buyer's target may not be above its limit.")
        if role == Role.SELLER and target < limit:
            errors.add((role, "target_price"), "A seller's target may not be below its limit.")
    temperature = raw.get("temperature")
    if temperature is not None:
        low, high = TEMPERATURE_RANGE
        if isinstance(temperature, bool) or not isinstance(temperature, (int, float)) or not math.isfinite(temperature):
            errors.add((role, "temperature"), MSG_NUMBER_REQUIRED)
            temperature = None
        elif not low <= temperature <= high:
            errors.add((role, "temperature"), MSG_BETWEEN.format(min_value=low, max_value=high))
            temperature = None
        else:
            temperature = float(temperature)
    provider = text_clean(raw.get("provider"), (role, "provider"), errors, max_chars=MAX_PROVIDER_CHARS)
    if provider:
        problem = provider_problem(provider)
        if problem:
            errors.add((role, "provider"), problem)
    return ParticipantInput(
        role=role,
        limit_price=limit or Decimal(0),
        target_price=target,
        persona=text_clean(raw.get("persona"), (role, "persona"), errors, max_chars=MAX_PERSONA_CHARS),
        strategy=choice_clean(
            raw.get("strategy"), (role, "strategy"), errors, choices=Strategy.values, default=Strategy.LINEAR
        ),
        mode=choice_clean(raw.get("mode"), (role, "mode"), errors, choices=AgentMode.values, default=AgentMode.NARRATE),
        provider=provider,
        model=text_clean(raw.get("model"), (role, "model"), errors, max_chars=MAX_MODEL_CHARS),
        temperature=temperature,
    )


def provider_problem(name: str) -> str | None:
    """Why `name` cannot be used as a provider, or None, as the provider registry answers."""
    try:
        get_provider(name)
    except UnknownProviderError:
        return f"Unknown provider {name!r}."
    except ProviderDisabledError:
        return f"Provider {name!r} is disabled."
    except LLMError:
        return None  # known but unhealthy: the engine falls back to templated words at run time
    return None


def participant_settings_json(data: ParticipantInput) -> dict[str, Any]:
    """A cleaned side's settings as JSON (prices as strings), in the shape `participant_clean` accepts:
    how a listing keeps its seller agent and a mandate its buyer."""
    values = {name: getattr(data, name) for name in PARTICIPANT_FIELDS}
    return {
        name: (str(value) if isinstance(value, Decimal) else value)
        for name, value in values.items()
        if value is not None and value != ""
    }


MAX_MANDATE_OPEN = 10
MANDATE_FIELDS = ("want", "strategy", "mode", "max_open", "persona", "provider", "model", "temperature", "max_rounds")
WANT_FIELDS = ("q", "category", "max_price")


def mandate_clean(raw: dict[str, Any], errors: Errors) -> dict[str, Any]:
    """A mandate's fields as the Mandate model takes them (its buyer's settings as JSON)."""
    for unknown in sorted(set(raw).difference(MANDATE_FIELDS)):
        errors.add((unknown,), "Unknown field.")
    want = raw.get("want")
    if not isinstance(want, dict):
        errors.add(("want",), "Must be an object with max_price and q and/or category.")
        want = {}
    for unknown in sorted(set(want).difference(WANT_FIELDS)):
        errors.add(("want", unknown), "Unknown field.")
    q = text_clean(want.get("q"), ("want", "q"), errors, max_chars=MAX_TITLE_CHARS)
    category = text_clean(want.get("category"), ("want", "category"), errors, max_chars=MAX_CATEGORY_CHARS)
    max_open = raw.get("max_open", 3)
    if isinstance(max_open, bool) or not isinstance(max_open, int) or not 1 <= max_open <= MAX_MANDATE_OPEN:
        errors.add(("max_open",), f"Must be an integer between 1 and {MAX_MANDATE_OPEN}.")
        max_open = 1
    rounds = raw.get("max_rounds")
    rounds = None if rounds is None else max_rounds_clean(rounds, errors)
    side = {name: raw[name] for name in PARTICIPANT_FIELDS if name in raw}
    side["limit_price"] = want.get("max_price")
    buyer_errors = Errors()
    buyer = participant_clean(Role.BUYER, side, buyer_errors)
    for field, messages in buyer_errors.get(Role.BUYER, {}).items():  # the buyer's fields sit at the top
        for message in messages:
            errors.add(("want", "max_price") if field == "limit_price" else (field,), message)
    if errors or buyer is None:
        return {}
    settings_json = participant_settings_json(buyer)
    settings_json.pop("limit_price")
    return {
        "want_q": q,
        "want_category": category,
        "max_price": buyer.limit_price,
        "buyer_settings": settings_json,
        "max_open": max_open,
        "max_rounds": rounds,
    }
