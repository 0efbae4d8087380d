"""The CraigslistBargain scenario -> private limits rule."""

from decimal import Decimal
from pathlib import Path

import pytest

from negotiations.evaluation.scenarios import Scenario, ScenarioError, scenario_limits, scenario_load, scenario_select

DATA = Path(__file__).resolve().parents[3] / "data" / "craigslist_scenarios.json"


def scenario(listing_price: str, buyer_target: str) -> Scenario:
    return Scenario("1", "Desk", "furniture", "", Decimal(listing_price), Decimal(buyer_target), Decimal(listing_price))


def test_the_rule_gives_a_floor_at_70_percent_and_a_ceiling_20_percent_above_the_buyer_target():
    limits = scenario_limits(scenario("349", "209"))
    assert (limits.seller_floor, limits.buyer_ceiling) == (Decimal("244.30"), Decimal("250.80"))
    assert (limits.seller_target, limits.buyer_target) == (Decimal("349"), Decimal("209"))
    assert limits.has_zone_of_agreement


def test_a_low_buyer_target_leaves_no_zone_of_agreement():
    limits = scenario_limits(scenario("1000", "500"))
    assert limits.buyer_ceiling == Decimal("600.00") < limits.seller_floor == Decimal("700.00")
    assert not limits.has_zone_of_agreement


def test_the_ceiling_never_exceeds_the_listing_price():
    assert scenario_limits(scenario("100", "95")).buyer_ceiling == Decimal("100")


def test_on_the_reference_data_most_but_not_all_scenarios_have_a_zone_of_agreement():
    scenarios = scenario_load(DATA)
    with_zone = sum(scenario_limits(s).has_zone_of_agreement for s in scenarios)
    assert (len(scenarios), with_zone) == (91, 71)


def test_select_by_id_or_index_and_refuse_unknown_keys():
    scenarios = [scenario("10", "5"), Scenario("42", "Bike", "bike", "", Decimal(50), Decimal(40), Decimal(50))]
    assert scenario_select(scenarios, "42").title == "Bike"
    assert scenario_select(scenarios, "0").title == "Desk"
    with pytest.raises(ScenarioError):
        scenario_select(scenarios, "7")


def test_a_malformed_file_is_a_clear_error(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('[{"title": "no price"}]')
    with pytest.raises(ScenarioError):
        scenario_load(bad)
