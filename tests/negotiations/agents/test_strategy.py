"""The concession strategy: openings, curves, acceptance and the deadline, never past the limit."""

import itertools
from decimal import Decimal

import pytest

from negotiations.agents.strategy import ConcessionStrategy


def make(role="seller", limit="350.00", target=None, tactic="linear", list_price="500.00", max_rounds=10, seed=1):
    return ConcessionStrategy(
        role=role,
        limit=Decimal(limit),
        target=None if target is None else Decimal(target),
        tactic=tactic,
        list_price=Decimal(list_price),
        max_rounds=max_rounds,
        seed=seed,
    )


@pytest.mark.parametrize("role", ["buyer", "seller"])
@pytest.mark.parametrize("tactic", ["boulware", "linear", "conceder"])
def test_planned_prices_move_monotonically_from_the_opening_to_an_endpoint_short_of_the_limit(role, tactic):
    strategy = make(role=role, limit="400.00" if role == "buyer" else "350.00", tactic=tactic)
    prices = [strategy.planned_price(i) for i in range(1, 11)]
    assert prices[0] == strategy.opening
    assert prices[-1] == strategy.endpoint
    # The endpoint is a hidden 1-4 % of the limit short of it, never the limit itself.
    gap = strategy.limit - strategy.endpoint if role == "buyer" else strategy.endpoint - strategy.limit
    assert (
        Decimal("0.01") * strategy.limit - Decimal("0.01") <= gap <= Decimal("0.04") * strategy.limit + Decimal("0.01")
    )
    steps = list(itertools.pairwise(prices))
    assert all(b >= a for a, b in steps) if role == "buyer" else all(b <= a for a, b in steps)
    assert all(p == p.quantize(Decimal("0.01")) for p in prices)


def test_boulware_concedes_later_than_linear_and_conceder_earlier():
    middle = {t: make(tactic=t, seed=0).planned_price(5) for t in ("boulware", "linear", "conceder")}
    # A seller conceding late keeps a higher price in the middle of the negotiation.
    assert middle["boulware"] > middle["linear"] > middle["conceder"]


def test_the_opening_lies_a_little_beyond_a_given_target_never_on_it():
    for seed in range(30):
        buyer = make(role="buyer", limit="400.00", target="300.00", seed=seed)
        seller = make(role="seller", limit="350.00", target="520.00", seed=seed)
        assert Decimal("285.00") <= buyer.opening < Decimal("300.00")
        assert Decimal("520.00") < seller.opening <= Decimal("546.00")
    assert len({make(role="buyer", limit="400.00", target="300.00", seed=s).opening for s in range(30)}) > 10


def test_a_target_equal_to_the_list_price_is_public_so_the_opening_is_exactly_it():
    assert make(role="seller", limit="350.00", target="500.00", list_price="500.00").opening == Decimal("500.00")


def test_derived_openings_stay_on_the_right_side_of_the_limit():
    buyer = make(role="buyer", limit="100.00", list_price="500.00")
    seller = make(role="seller", limit="900.00", list_price="500.00")
    assert buyer.opening <= Decimal("100.00")
    assert seller.opening >= Decimal("900.00")


def test_the_same_seed_gives_the_same_plan_and_another_seed_may_not():
    assert make(seed=42).planned_price(4) == make(seed=42).planned_price(4)
    assert len({make(seed=s).planned_price(4) for s in range(20)}) > 1


def test_accepts_a_standing_offer_at_least_as_good_as_the_planned_price():
    strategy = make(role="seller")
    planned = strategy.planned_price(3)
    plan = strategy.decide(own_turn=3, final_turn=False, standing_offer=planned + Decimal("0.01"))
    assert (plan.decision.action, plan.decision.price) == ("accept", planned + Decimal("0.01"))


def test_counters_when_the_standing_offer_is_worse_than_planned():
    strategy = make(role="buyer", limit="400.00")
    plan = strategy.decide(own_turn=2, final_turn=False, standing_offer=Decimal("480.00"))
    assert plan.decision.action == "offer"
    assert plan.decision.price == strategy.planned_price(2)


def test_on_the_final_turn_walks_away_from_an_offer_beyond_the_limit():
    plan = make(role="buyer", limit="400.00").decide(own_turn=10, final_turn=True, standing_offer=Decimal("400.01"))
    assert plan.decision.action == "walk_away"


def test_on_the_final_turn_accepts_an_offer_exactly_at_the_limit():
    plan = make(role="buyer", limit="400.00").decide(own_turn=10, final_turn=True, standing_offer=Decimal("400.00"))
    assert (plan.decision.action, plan.decision.price) == ("accept", Decimal("400.00"))


def test_a_single_round_offers_the_endpoint_at_once():
    strategy = make(role="seller", max_rounds=1)
    assert strategy.planned_price(1) == strategy.endpoint
    assert Decimal("350.00") < strategy.endpoint <= Decimal("364.00")


def test_unknown_tactic_is_refused():
    with pytest.raises(ValueError):
        make(tactic="tit-for-tat")


@pytest.mark.parametrize(
    "role, limit, target",
    [
        ("buyer", "400.00", "300.00"),
        ("buyer", "400.00", None),
        ("buyer", "400.00", "400.00"),
        ("buyer", "12.34", "12.00"),
        ("seller", "350.00", "520.00"),
        ("seller", "350.00", None),
        ("seller", "350.00", "350.00"),
        ("seller", "8.00", "8.01"),
    ],
    ids=[
        "buyer-target",
        "buyer-derived",
        "buyer-target-is-limit",
        "buyer-small",
        "seller-target",
        "seller-derived",
        "seller-target-is-floor",
        "seller-small",
    ],
)
def test_no_planned_price_is_the_limit_or_the_target(role, limit, target):
    private = {Decimal(limit)} | ({Decimal(target)} if target else set())
    for seed in range(40):
        for max_rounds in (1, 2, 5, 20):
            strategy = make(role=role, limit=limit, target=target, max_rounds=max_rounds, seed=seed)
            for turn in range(1, max_rounds + 1):
                planned = strategy.planned_price(turn)
                assert planned not in private, (seed, max_rounds, turn)
                assert planned < Decimal(limit) if role == "buyer" else planned > Decimal(limit)


def test_the_last_offer_does_not_tell_the_limit():
    # The endpoint is the limit minus a seeded margin: the same limit gives different last offers.
    endpoints = {make(role="buyer", limit="400.00", seed=seed).endpoint for seed in range(20)}
    assert len(endpoints) > 10 and Decimal("400.00") not in endpoints


def test_three_offers_do_not_give_the_limit_by_the_curves_formula():
    # Without noise, (o3 - o1) / (o2 - o1) = 2 ** (1 / beta) on a linear curve let anyone solve for the
    # limit from three offers; with noisy turns and a hidden margin the solution misses it.
    misses = 0
    for seed in range(20):
        strategy = make(role="seller", limit="350.00", target="520.00", max_rounds=5, seed=seed)
        o1, o2, o3 = (strategy.planned_price(i) for i in (1, 2, 3))
        beta = float(strategy.beta)  # assume the attacker even knows beta
        progress = [(i / 4) ** (1 / beta) for i in (1, 2)]
        # o = opening + (limit - opening) * progress  =>  solve with o1 as the opening and o2.
        estimate = o1 + (o2 - o1) / Decimal(repr(progress[0]))
        misses += abs(estimate - Decimal("350.00")) >= Decimal("1.00")
    assert misses == 20


def test_on_its_own_last_turn_a_side_accepts_anything_within_its_limit():
    strategy = make(role="seller", limit="350.00", max_rounds=4)
    assert strategy.planned_price(4) > Decimal("350.00")
    plan = strategy.decide(own_turn=4, final_turn=False, standing_offer=Decimal("350.00"))
    assert (plan.decision.action, plan.decision.price) == ("accept", Decimal("350.00"))
    earlier = strategy.decide(own_turn=3, final_turn=False, standing_offer=Decimal("350.00"))
    assert earlier.decision.action == "offer"


def test_the_whole_plan_is_the_same_for_the_same_seed():
    plan = [make(seed=5, max_rounds=12).planned_price(i) for i in range(1, 13)]
    assert plan == [make(seed=5, max_rounds=12).planned_price(i) for i in range(1, 13)]
