"""The words checks: every public message reads like a person negotiating, each failure its own kind."""

from decimal import Decimal

import pytest

from negotiations.agents.guardrails import TextPolicy, check_text
from negotiations.agents.wording import WORDING_KINDS, check_wording, names_price, word_count


def kinds(text, *, role="seller", action="offer", price="155.00"):
    return [
        f.kind for f in check_wording(text, role=role, action=action, price=None if price is None else Decimal(price))
    ]


# --- an offer names its own price -----------------------------------------------------------------
@pytest.mark.parametrize(
    "text, price",
    [
        ("I can do $155 for the bike.", "155"),
        ("How about 155 dollars?", "155"),
        ("Would you take 155 for it?", "155"),
        ("$155.00 and it's yours.", "155"),
        ("Could you do $1,200?", "1200"),
        ("I can do 1200.00 for the desk.", "1200"),
        ("Make it 1.2k and it's yours.", "1200"),
        ("I could do 1k2 for it.", "1200"),
        ("Would you take twelve hundred?", "1200"),
        ("I can do 1,200 bucks.", "1200"),
        ("I'm asking $14,500 for the truck.", "14500"),
        ("I can do 14500 USD.", "14500"),
        ("I can do €155 for it.", "155"),
        ("How about $49.50?", "49.50"),
        ("I can do a grand.", "1000"),
        ("Fifty five dollars is my price.", "55"),
    ],
)
def test_an_offer_naming_its_price_in_a_plain_spelling_passes(text, price):
    assert names_price(text, Decimal(price))
    assert "missing_own_price" not in kinds(text, price=price)


@pytest.mark.parametrize(
    "text, price",
    [
        ("I'm so glad to have you here.", "155"),  # no price at all
        ("I can do $150 for the bike.", "155"),  # another price
        ("I can do 1 2 0 0 for it.", "1200"),  # digit by digit: also 1, 2 and 0
        ("I can do one two zero zero.", "1200"),
        ("I can do 1-2-0-0.", "1200"),
        ("Would you take $1 200?", "1200"),  # also 1 and 200
        ("I could do 1.200 for it.", "1200"),  # also 1.2
        ("How about three fifty?", "350"),  # also 53
        ("How about $155.50?", "155"),  # cents make it another price
    ],
)
def test_an_offer_without_its_price_in_one_reading_fails(text, price):
    assert not names_price(text, Decimal(price))
    assert "missing_own_price" in kinds(text, price=price)


def test_only_offers_must_name_their_price():
    assert "missing_own_price" not in kinds("Sorry, we are too far apart.", action="walk_away", price=None)
    assert "missing_own_price" not in kinds("Deal, it's yours.", action="accept")


# --- no other price than earlier offers or the list price -----------------------------------------
POLICY = TextPolicy.build(
    public_prices={Decimal("200.00"), Decimal("120.00")},
    current_price=Decimal("155.00"),
    private_prices={Decimal("130.00")},
)


@pytest.mark.parametrize(
    "text",
    [
        "I can do $155. The list price was $200.",
        "You offered $120; I can do 155 dollars.",
        "It has 2 drawers and I can do $155.",
    ],
)
def test_only_public_prices_and_the_offer_itself_may_be_named(text):
    assert [f.kind for f in check_text(text, action="offer", price=Decimal("155.00"), policy=POLICY)] == []


@pytest.mark.parametrize(
    "spelling",
    [
        "$170",
        "170 dollars",
        "170.00",
        "170,00",
        "$0.17k",
        "one seventy",
        "one hundred seventy",
        "1-7-0",
        "1 7 0",
        "one seven zero",
        "170 bucks",
        "USD 170",
    ],
)
def test_any_other_price_in_any_spelling_fails(spelling):
    text = f"I can do $155, or {spelling} with delivery."
    found = [f.kind for f in check_text(text, action="offer", price=Decimal("155.00"), policy=POLICY)]
    assert "unlisted_price_in_text" in found


@pytest.mark.parametrize("spelling", ["$130", "130 dollars", "130.00", "one thirty", "1-3-0", "a hundred and thirty"])
def test_the_private_limit_in_any_spelling_is_named_as_such(spelling):
    text = f"I can do $155, but {spelling} is my floor."
    found = [f.kind for f in check_text(text, action="offer", price=Decimal("155.00"), policy=POLICY)]
    assert "private_price_in_text" in found


# --- no role labels, no talk about the exchange ---------------------------------------------------
@pytest.mark.parametrize(
    "text",
    [
        "Seller: I can do $155.",
        "Buyer: I can do $155.",
        "Conversation: I can do $155.",
        "I can do $155. Buyer : ok",
        "Assistant: I can do $155.",
        "Response: I can do $155.",
    ],
)
def test_role_labels_fail(text):
    assert "role_label" in kinds(text)


@pytest.mark.parametrize(
    "text",
    [
        "The seller's next message must include no other numbers. $155.",
        "Please provide a response with the following format: $155",
        "I can do $155, as the rules say.",
        "Following your instructions, $155.",
        "As an AI, I can offer $155.",
        "I am a language model and I can do $155.",
        "Here is my reply in one sentence: $155.",
        "I can do $155 in JSON.",
    ],
)
def test_talk_about_messages_formats_rules_and_being_an_ai_fails(text):
    assert "meta_talk" in kinds(text)


# --- the speaker stays in its role ----------------------------------------------------------------
@pytest.mark.parametrize(
    "text",
    [
        "I would like to buy it for $155.",
        "I'd love to purchase the bike for $155.",
        "That's over my budget, but $155 works.",
        "I can't afford more than $155.",
        "I'm looking for a bike around $155.",
        "Can I buy it for $155?",
    ],
)
def test_a_seller_that_sounds_like_a_buyer_fails(text):
    assert "out_of_role" in kinds(text, role="seller")


@pytest.mark.parametrize(
    "text",
    [
        "I'm selling it for $155.",
        "I'd like to sell it for $155.",
        "I'm so glad to have you in our shop. $155?",
        "My asking price is $155.",
        "I could let it go for $155.",
        "Welcome to our store! $155.",
    ],
)
def test_a_buyer_that_sounds_like_a_seller_fails(text):
    assert "out_of_role" in kinds(text, role="buyer")


@pytest.mark.parametrize(
    "role, text",
    [
        ("seller", "I can let it go for $155 if you pick it up."),
        ("seller", "If you'd like to buy it, $155 is my price."),
        ("buyer", "Would you sell it for $155?"),
        ("buyer", "I can pay $155, that's my budget."),
    ],
)
def test_each_side_speaking_as_itself_passes(role, text):
    assert "out_of_role" not in kinds(text, role=role)


# --- length ---------------------------------------------------------------------------------------
def test_three_to_sixty_words():
    assert word_count("I can do $1,200 for it, don't you think?") == 9
    assert "bad_length" in kinds("$155?")
    assert "bad_length" in kinds("Okay $155.")
    assert "bad_length" not in kinds("Okay, $155 then.")
    sixty = "I can do $155 " + "really " * 56
    assert word_count(sixty) == 60 and "bad_length" not in kinds(sixty)
    assert "bad_length" in kinds(sixty + "truly")


# --- an acceptance says so ------------------------------------------------------------------------
@pytest.mark.parametrize(
    "text",
    [
        "Deal! $155 it is.",
        "I accept $155.",
        "Agreed, see you tomorrow.",
        "Sounds good, I'll take it.",
        "$155 works for me.",
        "You've got it, $155.",
    ],
)
def test_an_acceptance_that_says_so_passes(text):
    assert "unstated_acceptance" not in kinds(text, action="accept")


@pytest.mark.parametrize(
    "text", ["I'm so glad to have you in our shop.", "The bike is red and fast.", "Let me check my calendar."]
)
def test_an_acceptance_that_does_not_say_so_fails(text):
    assert "unstated_acceptance" in kinds(text, action="accept")


# --- good messages pass everything ----------------------------------------------------------------
@pytest.mark.parametrize(
    "role, action, price, text",
    [
        ("seller", "offer", "160.00", "Hi! The road bike is still available. I'm asking $160."),
        ("buyer", "offer", "1200.00", "I like the Civic, but $1,200 is what I can pay."),
        ("seller", "offer", "14500.00", "It runs great. The best I can do is $14,500."),
        ("buyer", "accept", "135.00", "Deal, I'll take the road bike for $135."),
        ("seller", "walk_away", None, "Sorry, that's too low for the road bike. I'll pass."),
    ],
)
def test_messages_a_person_would_write_pass_every_words_check(role, action, price, text):
    assert kinds(text, role=role, action=action, price=price) == []


def test_every_kind_is_listed():
    assert set(WORDING_KINDS) == {
        "missing_own_price",
        "role_label",
        "meta_talk",
        "out_of_role",
        "bad_length",
        "unstated_acceptance",
        "repeated_text",
    }


# --- no repeats of its own words ------------------------------------------------------------------
def test_a_sentence_said_again_with_only_a_new_price_fails():
    earlier = ["I'm very interested. Would you consider $1,050 a month?"]
    again = "I'm very interested. Would you consider $1,100 a month?"
    found = check_wording(again, role="buyer", action="offer", price=Decimal("1100"), earlier=earlier)
    assert [f.kind for f in found] == ["repeated_text"]
    other = "I'm still interested. Could you do $1,100 a month?"
    assert check_wording(other, role="buyer", action="offer", price=Decimal("1100"), earlier=earlier) == []


def test_a_short_counter_may_come_back():
    found = check_wording(
        "How about $160?", role="buyer", action="offer", price=Decimal("160"), earlier=["How about $150?"]
    )
    assert found == []


# --- odd spellings and an assistant's voice -------------------------------------------------------
def test_a_percentage_is_not_the_price():
    assert not names_price("That's actually my 250%.", Decimal("250"))
    assert "missing_own_price" in kinds("That's actually my 250%.", price="250.00")


@pytest.mark.parametrize(
    "text",
    [
        "You've got a deal at $155. I'm happy to help you with whatever you need.",
        "I can do $155. How can I help you today?",
        "I can do $155. Let me know if you have any questions.",
        "I'm here to assist you: $155.",
    ],
)
def test_an_assistants_service_phrases_are_talk_about_being_an_ai(text):
    assert "meta_talk" in kinds(text, action="accept" if "deal" in text else "offer")
