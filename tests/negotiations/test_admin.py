"""Staff can inspect a negotiation in the admin: participants with their limits and the whole log,
never a token digest."""

import pytest

from tests.support.negotiations import make_negotiation

pytestmark = pytest.mark.django_db


def test_the_negotiation_page_shows_participants_and_events_but_no_token_digest(admin_client):
    negotiation, _ = make_negotiation()
    response = admin_client.get(f"/admin/negotiations/negotiation/{negotiation.pk}/change/")
    assert response.status_code == 200
    page = response.content.decode()
    assert "450.00" in page and "350.00" in page  # staff see both private limits
    assert "running" in page
    assert negotiation.observer_token_hash not in page
    for participant in negotiation.participants.all():
        assert participant.token_hash not in page


def test_negotiations_are_not_created_by_hand_in_the_admin(admin_client):
    assert admin_client.get("/admin/negotiations/negotiation/add/").status_code == 403


def test_the_listing_pages_answer(admin_client):
    make_negotiation()
    assert admin_client.get("/admin/negotiations/listing/").status_code == 200
    assert admin_client.get("/admin/negotiations/negotiation/").status_code == 200
