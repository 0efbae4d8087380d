"""`evaluate --buyers K` and `--mandates`: the market evaluation plays real competing negotiations and
reports its metrics; the numbers are checked against the listings in the report, and a bad K is a
clear error."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.management import CommandError

from negotiations.evaluation.market import BUYER_STEP, ListingMarket, market_metrics
from tests.negotiations.evaluation.test_evaluate_command import DATA, evaluate

pytestmark = pytest.mark.django_db(transaction=True)


def test_competing_buyers_sell_each_listing_at_most_once_and_the_metrics_add_up(tmp_path):
    out = tmp_path / "market.json"
    evaluate(
        "--scenarios", str(DATA), "--limit", "8", "--mode", "rule", "--buyers", "3", "--seed", "3", "--out", str(out)
    )
    report = json.loads(out.read_text())
    arm = report["arms"][0]
    metrics, listings = arm["metrics"], arm["listings"]
    assert report["kind"] == "market" and metrics["listings"] == 8 and metrics["double_sales"] == 0
    assert metrics["sales"] == sum(1 for item in listings if item["winner"] is not None)
    for item in listings:
        ceilings = [Decimal(c) for c in item["ceilings"]]
        assert len(ceilings) == 3 and ceilings == sorted(ceilings, reverse=True)  # distinct, buyer 0 highest
        assert abs(ceilings[1] - ceilings[0] * (1 - BUYER_STEP)) <= Decimal("0.01")  # the documented rule
        if item["winner"] is not None:
            price = Decimal(item["price"])
            assert Decimal(item["floor"]) <= price <= ceilings[item["winner"]]  # never outside a limit
            losers = [r for k, r in enumerate(item["end_reasons"]) if k != item["winner"]]
            assert set(losers) <= {"sold_elsewhere", "walk_away", "max_rounds"}


def test_shopping_mandates_buy_at_most_once_each(tmp_path):
    out = tmp_path / "mandates.json"
    evaluate(
        "--scenarios", str(DATA), "--limit", "10", "--mode", "rule", "--mandates", "--seed", "3", "--out", str(out)
    )
    report = json.loads(out.read_text())
    metrics, mandates = report["arms"][0]["metrics"], report["arms"][0]["mandates"]
    assert report["kind"] == "mandates" and metrics["mandates"] == 10
    assert metrics["double_purchases"] == 0 and metrics["double_sales"] == 0
    bought = [m for m in mandates if m["status"] == "bought"]
    assert metrics["bought"] == len(bought) and len({m["listing"] for m in bought}) == len(bought)
    assert all(Decimal(m["price"]) <= Decimal(m["ceiling"]) for m in bought)
    assert {m["status"] for m in mandates} <= {"bought", "exhausted"}  # nobody is left shopping


def test_market_metrics_on_a_hand_made_market():
    sold_to_best = ListingMarket("a", Decimal(100), (Decimal(200), Decimal(150)), 1, 0, Decimal(160), 1.0, 4, ())
    sold_to_second = ListingMarket("b", Decimal(100), (Decimal(300), Decimal(200)), 1, 1, Decimal(180), 2.0, 6, ())
    unsold = ListingMarket("c", Decimal(100), (Decimal(90), Decimal(80)), 0, None, None, None, None, ())
    metrics = market_metrics([sold_to_best, sold_to_second, unsold])
    assert metrics["sales"] == 2 and metrics["listings_with_a_zone"] == 2
    assert metrics["allocative_efficiency"] == 0.5
    assert metrics["welfare"] == round((100 + 100) / (100 + 200), 4)
    assert metrics["price_over_second_ceiling_median"] == round((160 / 150 + 180 / 200) / 2, 4)


@pytest.mark.parametrize("k", ["0", "21"])
def test_a_bad_number_of_buyers_is_a_clear_error(tmp_path, k):
    out = tmp_path / "never.json"
    with pytest.raises(CommandError, match="--buyers"):
        evaluate("--scenarios", str(DATA), "--mode", "rule", "--buyers", k, "--out", str(out))
    assert not Path(out).exists()
