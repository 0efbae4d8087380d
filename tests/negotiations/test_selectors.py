"""Selectors: the negotiation as each viewer may see it (its own side's private settings only; the seed,
with which the strategy's noise and margins could be recomputed, for staff only)."""

from __future__ import annotations

import pytest

from negotiations.selectors import negotiation_view_get
from negotiations.validation import PARTICIPANT_FIELDS
from negotiations.visibility import Viewer
from tests.support.negotiations import make_negotiation

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "role, private_sides, sees_seed",
    [
        ("buyer", {"buyer"}, False),
        ("seller", {"seller"}, False),
        ("observer", set(), False),
        ("staff", {"buyer", "seller"}, True),
    ],
)
def test_each_viewer_sees_only_the_private_settings_its_visibility_allows(role, private_sides, sees_seed):
    negotiation, _ = make_negotiation(seller={"persona": "quiet collector", "target_price": "420.00"})
    body = negotiation_view_get(negotiation=negotiation, viewer=Viewer(role))
    assert body["viewer"] == role
    shown = {side["role"] for side in body["participants"] if "private" in side}
    assert shown == private_sides
    for side in body["participants"]:
        if "private" in side:
            assert tuple(side["private"]) == PARTICIPANT_FIELDS
    assert ("seed" in body) is sees_seed
    if "seller" not in private_sides:
        assert "quiet collector" not in str(body)
