"""The concession strategy: openings, curves, acceptance and the deadline, never past the limit."""
from decimal import Decimal

import pytest

from negotiations.strategy import ConcessionStrategy


def make(role="seller", limit="350.00", target=None, tactic="linear", list_price="500.00", max_rounds=10, seed=1):
    return ConcessionStrategy(
        role=role, limit=Decimal(limit), target=None if target is None else Decimal(target), tactic=tactic,
        list_price=Decimal(list_price), max_rounds=max_rounds, seed=seed,
    )


@pytest.mark.parametrize("role", ["buyer", "seller"])
@pytest.mark.parametrize("tactic", ["boulware", "linear", "conceder"])
def test_planned_prices_move_monotonically_from_the_opening_to_the_limit(role, tactic):
    strategy = make(role=role, limit="400.00" if role == "buyer" else "350.00", tactic=tactic)
    prices = [strategy.planned_price(i) for i in range(1, 11)]
    assert prices[0] == strategy.opening
    assert prices[-1] == strategy.limit
    steps = list(zip(prices, prices[1:]))
    assert all(b >= a for a, b in steps) if role == "buyer" else all(b <= a for a, b in steps)
    assert all(p == p.quantize(Decimal("0.01")) for p in prices)


def test_boulware_concedes_later_than_linear_and_conceder_earlier():
    middle = {t: make(tactic=t, seed=0).planned_price(5) for t in ("boulware", "linear", "conceder")}
    # A seller conceding late keeps a higher price in the middle of the negotiation.
    assert middle["boulware"] > middle["linear"] > middle["conceder"]


def test_opening_is_the_target_when_one_is_given():
    assert make(role="buyer", limit="400.00", target="300.00").opening == Decimal("300.00")
    assert make(role="seller", limit="350.00", target="520.00").opening == Decimal("520.00")


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


def test_a_single_round_offers_the_limit_at_once():
    assert make(role="seller", max_rounds=1).planned_price(1) == Decimal("350.00")


def test_unknown_tactic_is_refused():
    with pytest.raises(ValueError):
        make(tactic="tit-for-tat")
