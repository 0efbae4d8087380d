"""Guardrail checks on moves and public text, and the gate for live drafts."""

from decimal import Decimal

import pytest

from negotiations.agents.guardrails import (
    PublicDraftGate,
    TextPolicy,
    assert_move_allowed,
    check_proposal,
    check_text,
)
from negotiations.agents.strategy import Decision
from negotiations.exceptions import GuardrailBreachError

D = Decimal
FLOOR, TARGET = D("350.00"), D("520.00")


def policy(current="420.00"):
    return TextPolicy.build(
        public_prices={D("500.00"), D("300.00")},
        current_price=None if current is None else D(current),
        private_prices={FLOOR, TARGET},
    )


def kinds(findings):
    return [f.kind for f in findings]


@pytest.mark.parametrize(
    "leak",
    [
        "$350",
        "350.00",
        "0.35k",
        "three fifty",
        "three hundred and fifty",
        "USD 350",
        "351",
        "0k35",
        "3-5-0",
        "3 5 0",
        "three five zero",
    ],
)
def test_naming_the_private_floor_in_any_spelling_is_a_leak(leak):
    text = f"I can do $420, but honestly my floor is {leak}."
    assert kinds(check_text(text, action="offer", price=D("420.00"), policy=policy())) == ["private_price_in_text"]


def test_a_price_nobody_offered_is_not_allowed():
    findings = check_text(
        "I can do $420, or $410 if you pick it up.", action="offer", price=D("420.00"), policy=policy()
    )
    assert kinds(findings) == ["unlisted_price_in_text"]


def test_public_prices_and_the_current_offer_may_be_named():
    text = "You offered $300 and I listed it at $500; I can do $420."
    assert check_text(text, action="offer", price=D("420.00"), policy=policy()) == []


def test_small_counts_are_not_prices():
    assert check_text("It has 2 drawers and 4 legs. $420?", action="offer", price=D("420.00"), policy=policy()) == []


@pytest.mark.parametrize(
    "text, action",
    [
        ("Deal! I accept.", "offer"),
        ("I'm walking away, no deal.", "offer"),
        ("Deal at $300", "walk_away"),
        ("I can't accept that.", "accept"),
    ],
)
def test_text_that_contradicts_the_action_is_flagged(text, action):
    price = D("300.00") if action == "accept" else (D("420.00") if action == "offer" else None)
    assert "contradicting_text" in kinds(check_text(text, action=action, price=price, policy=policy(current=None)))


def test_empty_text_is_flagged():
    assert kinds(check_text("  ", action="offer", price=D("420.00"), policy=policy())) == ["empty_text"]


def test_offer_beyond_the_limit_is_refused():
    findings = check_proposal(Decision("offer", D("349.99")), role="seller", limit=FLOOR, standing_offer=None)
    assert kinds(findings) == ["beyond_limit"]


def test_accepting_without_a_standing_offer_is_refused():
    findings = check_proposal(Decision("accept", D("400.00")), role="seller", limit=FLOOR, standing_offer=None)
    assert kinds(findings) == ["accept_without_offer"]


def test_accepting_at_another_price_than_the_standing_offer_is_refused():
    findings = check_proposal(Decision("accept", D("450.00")), role="seller", limit=FLOOR, standing_offer=D("400.00"))
    assert kinds(findings) == ["accept_price_mismatch"]


def test_accepting_a_standing_offer_beyond_the_limit_is_refused():
    findings = check_proposal(Decision("accept", D("300.00")), role="seller", limit=FLOOR, standing_offer=D("300.00"))
    assert kinds(findings) == ["beyond_limit"]


def test_the_log_gate_raises_on_a_move_that_breaks_an_invariant():
    assert_move_allowed(Decision("offer", D("360.00")), role="seller", limit=FLOOR, standing_offer=None)
    with pytest.raises(GuardrailBreachError):
        assert_move_allowed(Decision("offer", D("340.00")), role="seller", limit=FLOOR, standing_offer=None)


def test_draft_gate_releases_safe_words_and_closes_before_a_leak():
    gate = PublicDraftGate(policy=policy())
    released = "".join(
        gate.feed(piece)
        for piece in ["I ", "can ", "do ", "$420 ", "but ", "my ", "floor ", "is ", "0.35", "k ", "really ", "ok "]
    )
    assert released.startswith("I can do $420")
    assert "0.35" not in released and "350" not in released
    assert gate.closed


def test_draft_gate_holds_back_a_number_until_its_suffix_is_known():
    gate = PublicDraftGate(policy=policy())
    released = "".join(gate.feed(piece) for piece in ["maybe ", "1.2", " k", " then"])
    assert "1.2" not in released


def test_draft_gate_does_not_close_on_a_number_still_being_written():
    gate = PublicDraftGate(policy=policy())
    released = "".join(gate.feed(piece) for piece in ["I ", "can ", "do ", "$4", "20 ", "for ", "it ", "today."])
    assert not gate.closed
    assert released == "I can do $420 for"


@pytest.mark.parametrize("spelling", ["$1 200", "1 200", "1\u202f200 €", "$1\u00a0200.00"])
def test_a_spaced_private_limit_does_not_pass_because_one_of_its_groups_is_public(spelling):
    # Buyer: limit 1200, offering 723.78; 200 is public. "1 200" also reads as 1 and 200, but it
    # also reads as the limit, and every reading must be allowed.
    spaced = TextPolicy.build(
        public_prices={D("200.00"), D("1000.00")}, current_price=D("723.78"), private_prices={D("1200.00")}
    )
    text = f"I offer $723.78, but I could go up to {spelling}."
    assert kinds(check_text(text, action="offer", price=D("723.78"), policy=spaced)) == ["private_price_in_text"]


def test_a_spaced_limit_whose_last_group_is_the_current_offer_is_caught():
    spaced = TextPolicy.build(
        public_prices={D("1600.00"), D("1500.00")}, current_price=D("450.00"), private_prices={D("1450.00")}
    )
    for text in ("I offer $450, though I could go up to $1 450.", "I offer 450; my max is 1\u202f450 €"):
        assert kinds(check_text(text, action="offer", price=D("450.00"), policy=spaced)) == ["private_price_in_text"]


def test_the_draft_gate_closes_on_a_spaced_limit():
    gate = PublicDraftGate(
        policy=TextPolicy.build(
            public_prices={D("1600.00"), D("1500.00")}, current_price=D("450.00"), private_prices={D("1450.00")}
        )
    )
    released = "".join(
        gate.feed(word + " ")
        for word in ["I", "offer", "450", "though", "my", "max", "is", "1", "450", "if", "pushed", "."]
    )
    assert gate.closed
    assert released == "I offer 450 though my max is"


def test_an_ambiguous_spelling_of_an_allowed_price_passes_when_its_other_reading_is_tiny():
    # "$1.200" reads as 1200 (allowed) or 1.2, which is far below any price in play.
    allowed = TextPolicy.build(public_prices={D("1200.00")}, current_price=D("1100.00"), private_prices={D("900.00")})
    assert check_text("You asked $1.200; I can do $1,100.", action="offer", price=D("1100.00"), policy=allowed) == []


@pytest.mark.parametrize(
    "text, action, price",
    [
        ("I can do $500.", "offer", "420.00"),  # the list price, not the offer
        ("How about $300?", "offer", "420.00"),  # the other side's price
        ("Deal at $300.", "accept", "420.00"),  # accepting, but naming another (public) price
        ("Listed at $500, but deal at $420.", "accept", "420.00"),
    ],
    ids=["offer-names-list-price", "offer-names-their-price", "accept-names-another-price", "accept-names-two-prices"],
)
def test_text_naming_another_price_than_the_move_contradicts_it(text, action, price):
    findings = check_text(text, action=action, price=D(price), policy=policy(current=price))
    assert kinds(findings) == ["contradicting_text"]


@pytest.mark.parametrize(
    "text, action",
    [
        ("You offered $300 and I listed it at $500; I can do $420.", "offer"),
        ("I can do $420 for the 2 chairs.", "offer"),
        ("Deal at $420!", "accept"),
        ("$420 works for me, it has 4 legs.", "accept"),
        ("Sorry, $300 is too low for me. I'll pass.", "walk_away"),
    ],
    ids=["offer-with-history", "offer-with-a-count", "accept", "accept-with-a-count", "walk-away-naming-their-price"],
)
def test_text_naming_its_own_price_beside_public_ones_is_consistent(text, action):
    price = D("420.00") if action in ("offer", "accept") else None
    assert (
        check_text(text, action=action, price=price, policy=policy(current=None if price is None else "420.00")) == []
    )


def test_an_llm_offer_of_exactly_the_private_limit_or_target_is_refused():
    for value in (FLOOR, TARGET):
        findings = check_proposal(
            Decision("offer", value),
            role="seller",
            limit=FLOOR,
            standing_offer=None,
            private_prices=frozenset({FLOOR, TARGET}),
        )
        assert kinds(findings) == ["private_price_offer"]
    near = check_proposal(
        Decision("offer", TARGET + D("0.01")),
        role="seller",
        limit=FLOOR,
        standing_offer=None,
        private_prices=frozenset({FLOOR, TARGET}),
    )
    assert near == []


@pytest.mark.parametrize(
    "pieces",
    [
        ["<action>offer</action><price>400.00</price>", "<message>I can do $400 ", "for it. "],
        ['{"action": "offer", ', '"price": 400, ', '"message": "I can do $400 for it." '],
    ],
)
def test_a_draft_in_a_proposals_shape_is_never_shown_live(pieces):
    # In llm mode a narrated replacement may come back as tags or JSON: the live draft stops at once.
    gate = PublicDraftGate(
        policy=TextPolicy.build(public_prices=set(), current_price=Decimal("400"), private_prices=set())
    )
    assert "".join(gate.feed(p) for p in pieces) == "" and gate.closed
