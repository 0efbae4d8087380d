"""One visibility rule, and the history selector and token checks built on it."""

import pytest

from negotiations.log import event_append
from negotiations.models import Event
from negotiations.selectors import negotiation_id_for_token, viewer_for_token
from negotiations.visibility import Viewer, can_view, event_list_visible_to, visibilities_for
from tests.support.negotiations import make_negotiation

V = Event.Visibility
EXPECTED = {
    "buyer": {V.PUBLIC, V.BUYER},
    "seller": {V.PUBLIC, V.SELLER},
    "observer": {V.PUBLIC},
    "staff": {V.PUBLIC, V.BUYER, V.SELLER, V.STAFF},
}


@pytest.mark.parametrize("role", sorted(EXPECTED))
def test_each_viewer_sees_exactly_its_visibilities(role):
    assert visibilities_for(Viewer(role)) == EXPECTED[role]


def test_an_unknown_visibility_is_hidden_from_everyone_but_staff():
    class Odd:
        visibility = "martians"

    assert [r for r in EXPECTED if can_view(Viewer(r), Odd())] == ["staff"]


def test_unknown_viewer_roles_are_refused():
    with pytest.raises(ValueError):
        Viewer("admin")  # type: ignore[arg-type]


@pytest.mark.django_db
def test_history_selector_filters_by_viewer_and_replays_after_a_seq():
    negotiation, _ = make_negotiation()
    for visibility in (V.BUYER, V.SELLER, V.STAFF, V.PUBLIC):
        event_append(
            negotiation=negotiation,
            type=Event.Type.STATUS,
            actor="system",
            visibility=visibility,
            data={"v": visibility},
        )
    seen = {
        r: [e.data.get("v", "public") for e in event_list_visible_to(negotiation=negotiation, viewer=Viewer(r))]
        for r in EXPECTED
    }
    assert seen["buyer"] == ["public", "buyer", "public"]  # the first is negotiation_start's status event
    assert seen["observer"] == ["public", "public"]
    assert seen["staff"] == ["public", "buyer", "seller", "staff", "public"]
    after = list(event_list_visible_to(negotiation=negotiation, viewer=Viewer.staff(), after_seq=3))
    assert [e.seq for e in after] == [4, 5]


@pytest.mark.django_db
def test_tokens_map_to_their_role_and_nothing_else():
    negotiation, tokens = make_negotiation()
    other, other_tokens = make_negotiation()
    for role, token in tokens.items():
        assert viewer_for_token(negotiation=negotiation, token=token) == Viewer(role)
        assert viewer_for_token(negotiation=other, token=token) is None
        assert negotiation_id_for_token(token=token) == negotiation.pk
    assert viewer_for_token(negotiation=negotiation, token="not-a-token") is None
    assert negotiation_id_for_token(token="not-a-token") is None
    assert negotiation_id_for_token(token=other_tokens["observer"]) == other.pk
