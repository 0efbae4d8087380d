"""Prices as people say them: the rounding table, never past a limit, never above the list price."""

import random
from decimal import Decimal

import pytest

from negotiations.agents.rounding import ROUNDING_TABLE, round_offer, round_to_step, step_for
from negotiations.agents.strategy import ConcessionStrategy


@pytest.mark.parametrize(
    "price, step",
    [
        ("4.20", "0.50"),
        ("9.99", "0.50"),
        ("10.00", "1"),
        ("99.99", "1"),
        ("100.00", "5"),
        ("999.00", "5"),
        ("1000.00", "25"),
        ("9999.99", "25"),
        ("10000.00", "100"),
        ("250000.00", "100"),
    ],
)
def test_each_price_range_has_its_step(price, step):
    assert step_for(Decimal(price)) == Decimal(step)


def test_every_bound_of_the_table_is_a_multiple_of_every_finer_step():
    steps = [step for _, step in ROUNDING_TABLE]
    for bound, _ in ROUNDING_TABLE[:-1]:
        assert all(bound % step == 0 for step in steps[: steps.index(step_for(bound))])


@pytest.mark.parametrize(
    "price, role, expected",
    [
        ("161.88", "seller", "165.00"),
        ("161.88", "buyer", "160.00"),
        ("1213.40", "buyer", "1200.00"),
        ("14531.00", "buyer", "14500.00"),
        ("57.60", "seller", "58.00"),
        ("155.00", "buyer", "155.00"),
        ("3.30", "seller", "3.50"),
    ],
)
def test_offers_round_away_from_the_limit(price, role, expected):
    limit = Decimal("1.00") if role == "seller" else Decimal("99999.00")
    assert round_offer(Decimal(price), role=role, limit=limit) == Decimal(expected)


def test_rounding_never_goes_past_a_limit_nor_to_zero():
    rng = random.Random(4)
    for _ in range(3000):
        limit = Decimal(rng.randint(1, 2_000_000)) / 100
        distance = Decimal(rng.randint(0, 20_000)) / 100
        for role in ("buyer", "seller"):
            price = max(limit - distance, Decimal("0.01")) if role == "buyer" else limit + distance
            rounded = round_offer(price, role=role, limit=limit)
            assert rounded > 0
            assert rounded <= limit if role == "buyer" else rounded >= limit, (role, price, limit, rounded)
            assert rounded == rounded.quantize(Decimal("0.01"))


def test_a_sellers_rounded_ask_is_never_above_its_list_price():
    rng = random.Random(5)
    for _ in range(3000):
        cap = Decimal(rng.randint(100, 2_000_000)) / 100
        limit = cap * Decimal(rng.uniform(0.3, 1.0)).quantize(Decimal("0.01"))
        price = limit + (cap - limit) * Decimal(rng.random()).quantize(Decimal("0.0001"))
        rounded = round_offer(price, role="seller", limit=limit, cap=cap)
        assert limit <= rounded <= cap, (price, limit, cap, rounded)


def test_a_price_near_the_limit_takes_a_finer_step_to_stay_close():
    # $25 steps would take 1,712 to 1,725, 17 from the floor; within 10 of it the price takes a $5 step.
    assert round_offer(Decimal("1712.00"), role="seller", limit=Decimal("1708.00")) == Decimal("1725.00")
    close = round_offer(Decimal("1712.00"), role="seller", limit=Decimal("1708.00"), max_margin=Decimal("10"))
    assert close == Decimal("1715.00")
    cents = round_offer(Decimal("1708.37"), role="seller", limit=Decimal("1708.00"), max_margin=Decimal("0.40"))
    assert cents == Decimal("1708.37")


def test_rounding_is_monotonic_across_the_rows():
    prices = [Decimal(cents) / 100 for cents in range(900, 120_000, 37)]
    for role in ("buyer", "seller"):
        rounded = [round_to_step(p, step_for(p), down=role == "buyer") for p in prices]
        assert rounded == sorted(rounded)


@pytest.mark.parametrize("tactic", ["boulware", "linear", "conceder"])
def test_every_offer_of_the_strategy_is_rounded_within_its_limit_and_the_list_price(tactic):
    for seed in range(60):
        rng = random.Random(seed)
        list_price = Decimal(rng.randint(5, 30_000))
        floor = (list_price * Decimal("0.7")).quantize(Decimal("0.01"))
        ceiling = (list_price * Decimal(rng.uniform(0.5, 1.3))).quantize(Decimal("0.01"))
        sides = (
            ConcessionStrategy(
                role="seller",
                limit=floor,
                target=list_price,
                tactic=tactic,
                list_price=list_price,
                max_rounds=10,
                seed=seed,
            ),
            ConcessionStrategy(
                role="buyer",
                limit=ceiling,
                target=(ceiling / Decimal("1.2")).quantize(Decimal("0.01")),
                tactic=tactic,
                list_price=list_price,
                max_rounds=10,
                seed=seed,
            ),
        )
        for strategy in sides:
            for price in [strategy.planned_price(i) for i in range(1, 11)]:
                assert price <= list_price
                assert price > strategy.limit if strategy.role == "seller" else price < strategy.limit
                # On the table's step, unless it is the list price itself.
                assert price % step_for(price) == 0 or price == list_price, (strategy.role, price)
            last = strategy.last_offer
            assert last <= list_price
            assert last > strategy.limit if strategy.role == "seller" else last < strategy.limit
