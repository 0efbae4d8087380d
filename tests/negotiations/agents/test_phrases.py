"""The phrase bank: varied, naming the item and the move's price only, never one phrasing twice in a row."""

import itertools
import random
from decimal import Decimal
from pathlib import Path

import pytest

from negotiations.agents.guardrails import TextPolicy, check_text
from negotiations.agents.phrases import PHRASES, item_name, phrase_for, phrase_matches
from negotiations.agents.wording import check_wording
from negotiations.evaluation.scenarios import scenario_load
from negotiations.prices import price_mentions

SCENARIOS = scenario_load(Path(__file__).resolve().parents[3] / "data" / "craigslist_scenarios.json")
PRICES = [Decimal(p) for p in ("3.50", "57.00", "155.00", "1200.00", "14500.00")]


def problems(text, *, role, action, price):
    policy = TextPolicy.build(public_prices={Decimal("99999.00")}, current_price=price, private_prices=set())
    found = check_text(text, action=action, price=price, policy=policy)
    found += check_wording(text, role=role, action=action, price=price)
    return [f.kind for f in found]


@pytest.mark.parametrize("key", sorted(PHRASES))
def test_every_phrase_passes_every_check_for_every_scenario_item_and_price(key):
    role, kind = key
    action = "offer" if kind == "open" else kind
    for scenario in SCENARIOS:
        item = item_name(scenario.title, scenario.category)
        for phrase in PHRASES[key]:
            for price in PRICES if action in ("offer", "accept") else [None]:
                text = phrase.replace("{price}", "$" + f"{price:,.2f}".removesuffix(".00") if price else "")
                text = text.replace("{item}", item)
                assert problems(text, role=role, action=action, price=price) == [], (scenario.title, text)


@pytest.mark.parametrize("key", sorted(PHRASES))
def test_the_bank_has_many_phrasings_for_the_moves_the_strategy_makes(key):
    role, kind = key
    assert len(PHRASES[key]) >= (8 if kind in ("open", "offer", "accept") else 4)
    assert len(set(PHRASES[key])) == len(PHRASES[key])
    if kind in ("open", "offer", "accept"):
        assert all("{price}" in p for p in PHRASES[key])
        assert sum("{item}" in p for p in PHRASES[key]) >= len(PHRASES[key]) // 2


def test_item_names_have_no_numbers_and_few_words():
    for scenario in SCENARIOS:
        name = item_name(scenario.title, scenario.category)
        assert name and not any(ch.isdigit() for ch in name) and "$" not in name, scenario.title
        assert len(name.split()) <= 3 and price_mentions(name) == []


@pytest.mark.parametrize(
    "title, category, name",
    [
        ("2007 Ford Ranger 4X4", "car", "Ford Ranger"),
        ("IKEA Table - Desk - Black", "furniture", "IKEA Table"),
        ("Brand New iPhone 6s Space Gray 64gb Factory Unlock", "phone", "iPhone"),
        ("Solid Wood light brown desk and chair", "furniture", "light brown desk"),
        ("FS: Blackberry Bold 9700 3G, WiFi", "phone", "phone"),
        ("Highly Sought After Dublin Ranch Townhouse 2BD/2BA", "housing", "townhouse"),
        ("OPEN TUESDAY 4:00-5:00 -- LARGE 1 BED - SLEEPS 3!", "housing", "place"),
        ("$60 OBO", "furniture", "piece"),
        ("2003 TOYOTA TACOMA TRD CLEAN TITLE", "car", "Toyota Tacoma TRD"),
    ],
)
def test_item_names_from_titles(title, category, name):
    assert item_name(title, category) == name


def test_phrase_matches_recognises_a_filled_phrasing_and_nothing_else():
    phrase = "Would you take {price} for the {item}?"
    assert phrase_matches(phrase, "Would you take $120 for the road bike?")
    assert not phrase_matches(phrase, "Would you take $120?")
    assert not phrase_matches("I can offer {price} for the {item}.", "Would you take $120 for the road bike?")


def play(*, seed, turns, action_of):
    texts: list[tuple[str, str]] = []
    for turn in range(1, turns + 1):
        role = "seller" if turn % 2 else "buyer"
        action = action_of(turn)
        text = phrase_for(
            role=role,
            action=action,
            price=Decimal(100 + turn) if action in ("offer", "accept") else None,
            item="road bike",
            currency="USD",
            seed=seed,
            turn=turn,
            own_texts=[t for r, t in texts if r == role],
            previous_text=texts[-1][1] if texts else "",
        )
        texts.append((role, text))
    return texts


def phrasing_of(text):
    return next(p for options in PHRASES.values() for p in options if phrase_matches(p, text))


@pytest.mark.parametrize("seed", range(25))
def test_no_phrasing_twice_in_a_row_in_a_negotiation(seed):
    texts = play(seed=seed, turns=20, action_of=lambda turn: "offer")
    phrasings = [phrasing_of(t) for _, t in texts]
    assert all(a != b for a, b in itertools.pairwise(phrasings))
    # Nor twice in a row for one side; within the first dozen turns not at all.
    for role in ("seller", "buyer"):
        own = [phrasing_of(t) for r, t in texts if r == role]
        assert all(a != b for a, b in itertools.pairwise(own))
        assert len(set(own[:6])) == 6


def test_the_seller_opens_with_an_ask_and_then_counters():
    texts = play(seed=3, turns=3, action_of=lambda turn: "offer")
    assert phrasing_of(texts[0][1]) in PHRASES[("seller", "open")]
    assert phrasing_of(texts[2][1]) in PHRASES[("seller", "offer")]


def test_the_same_seed_and_turn_give_the_same_phrase_and_seeds_vary():
    first = play(seed=11, turns=6, action_of=lambda turn: "offer")
    assert first == play(seed=11, turns=6, action_of=lambda turn: "offer")
    openings = {play(seed=s, turns=1, action_of=lambda turn: "offer")[0][1] for s in range(30)}
    assert len(openings) >= 5


def test_phrases_name_the_price_as_people_write_it():
    text = phrase_for(
        role="buyer", action="accept", price=Decimal("1200.00"), item="desk", currency="USD", seed=1, turn=2
    )
    assert "$1,200" in text and "1200.00" not in text
    euro = phrase_for(role="buyer", action="offer", price=Decimal("14500"), item="car", currency="EUR", seed=2, turn=2)
    assert "€14,500" in euro


def test_a_random_walk_of_actions_never_repeats_in_a_row():
    rng = random.Random(9)
    for seed in range(10):
        texts = play(seed=seed, turns=16, action_of=lambda turn: rng.choice(["offer", "offer", "reject", "say"]))
        phrasings = [phrasing_of(t) for _, t in texts]
        assert all(a != b for a, b in itertools.pairwise(phrasings))
