"""Staff can inspect a negotiation in the admin: participants with their limits and the whole log,
never a token digest."""

import pytest

from tests.support.negotiations import make_listing, make_negotiation

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


def test_the_listing_page_shows_its_sale_and_negotiations_and_the_mandates_page_answers(admin_client):
    from negotiations import market
    from tests.support.market import SELLER, accept_commit

    listing = make_listing(seller=SELLER)
    winner, _ = make_negotiation(listing=listing)
    make_negotiation(listing=listing)
    accept_commit(winner, price="410.00")
    page = admin_client.get(f"/admin/negotiations/listing/{listing.pk}/change/").content.decode()
    assert "410.00" in page and "sold" in page and f"/admin/negotiations/negotiation/{winner.pk}/change/" in page
    listing_list = admin_client.get("/admin/negotiations/listing/").content.decode()
    assert "open negotiations" in listing_list.lower()
    make_listing(title="Pine table", seller=SELLER)
    mandate, _ = market.mandate_create(want={"q": "table", "max_price": "450"}, mode="rule")
    assert admin_client.get("/admin/negotiations/mandate/").status_code == 200
    mandate_page = admin_client.get(f"/admin/negotiations/mandate/{mandate.pk}/change/").content.decode()
    assert "450.00" in mandate_page and mandate.token_hash not in mandate_page
    assert listing.owner_token_hash is None or listing.owner_token_hash not in page
