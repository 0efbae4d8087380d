"""The market's HTTP API: discovery filters (each bad value a 400 naming its parameter), the listing's
owner token and withdraw, the 409 on a listing that is not available, and mandates (create, read,
cancel) with every bad input refused and nothing written."""

from __future__ import annotations

import json

import pytest
from django.contrib.auth import get_user_model
from rest_framework.authtoken.models import Token

from negotiations.engine.runners import set_runner
from negotiations.models import Listing, Mandate, Negotiation
from tests.support.market import SELLER, RecordingRunner, accept_commit, buyer
from tests.support.negotiations import make_listing, make_negotiation

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def runner():
    recording = RecordingRunner()
    previous = set_runner(recording)
    yield recording
    set_runner(previous)


def post(client, url, body=None, **headers):
    return client.post(url, data=json.dumps(body or {}), content_type="application/json", headers=headers)


def error_code(response) -> str:
    return response.json()["error"]["code"]


def staff_token() -> str:
    user = get_user_model().objects.create_user("boss", password="pw-staff-123", is_staff=True)
    return Token.objects.create(user=user).key


# --- discovery ---------------------------------------------------------------------------------------
def test_listings_are_found_by_text_category_price_and_status(client):
    bike = make_listing(title="Road bike", list_price="400.00", category="bikes", description="")
    table = make_listing(title="Table", list_price="250.00", category="furniture", description="Solid oak.")
    cheap = make_listing(title="Kid's bike", list_price="80.00", category="Bikes", description="")
    sold = make_listing(title="Old bike", list_price="90.00", category="bikes", description="")
    accept_commit(make_negotiation(listing=sold, buyer=buyer())[0])

    def ids(**query):
        response = client.get("/api/v1/listings", query)
        assert response.status_code == 200, response.content
        return [item["id"] for item in response.json()["results"]]

    assert set(ids(q="BIKE")) == {bike.pk, cheap.pk, sold.pk}
    assert ids(q="OAK") == [table.pk]  # the description matches too
    assert set(ids(category="bikes", status="available")) == {bike.pk, cheap.pk}
    assert ids(min_price="85", max_price="100") == [sold.pk]
    assert ids(category="bikes", ordering="list_price") == [cheap.pk, sold.pk, bike.pk]
    assert ids(category="bikes", ordering="-list_price")[0] == bike.pk
    item = next(i for i in client.get("/api/v1/listings", {"status": "sold"}).json()["results"])
    assert item["status"] == "sold" and item["sold_at"] and "sold_price" not in item and "sale" not in item


@pytest.mark.parametrize(
    "name, value",
    [("min_price", "abc"), ("max_price", "1e"), ("status", "gone"), ("ordering", "title"), ("min_price", "1" * 20)],
)
def test_a_bad_filter_value_is_a_400_naming_the_parameter(client, name, value):
    response = client.get("/api/v1/listings", {name: value})
    assert response.status_code == 400
    body = response.json()["error"]
    assert body["code"] == "VALIDATION_ERROR" and list(body["details"]["fields"]) == [name]


def test_listings_show_the_public_count_of_open_negotiations(client):
    listing = make_listing()
    for _ in range(3):
        make_negotiation(listing=listing, buyer=buyer())
    assert client.get(f"/api/v1/listings/{listing.pk}").json()["open_negotiations"] == 3


# --- owner token and withdraw ---------------------------------------------------------------------------
def test_the_owner_token_withdraws_a_listing_and_ends_its_negotiations(client, runner):
    created = post(client, "/api/v1/listings", {"title": "Road bike", "list_price": "400", "seller": SELLER})
    assert created.status_code == 201
    body = created.json()
    token, listing_id = body["owner_token"], body["id"]
    assert body["has_seller_agent"] and "seller" not in body and "350" not in created.content.decode()
    assert Listing.objects.get(pk=listing_id).owner_token_hash != token  # stored hashed
    negotiation, _ = make_negotiation(listing=Listing.objects.get(pk=listing_id), buyer=buyer())

    assert post(client, f"/api/v1/listings/{listing_id}/withdraw").status_code == 401
    assert error_code(post(client, f"/api/v1/listings/{listing_id}/withdraw", Authorization="Bearer nope")) == (
        "PERMISSION_DENIED"
    )
    assert post(client, "/api/v1/listings/999999/withdraw", Authorization=f"Bearer {token}").status_code == 404
    assert Listing.objects.get(pk=listing_id).status == "available"

    withdrawn = post(client, f"/api/v1/listings/{listing_id}/withdraw", Authorization=f"Bearer {token}")
    assert withdrawn.status_code == 200 and withdrawn.json()["status"] == "withdrawn"
    negotiation.refresh_from_db()
    assert negotiation.end_reason == "withdrawn" and runner.cancelled == [negotiation.pk]
    again = post(client, f"/api/v1/listings/{listing_id}/withdraw", Authorization=f"Bearer {token}")
    assert (again.status_code, error_code(again)) == (409, "LISTING_NOT_AVAILABLE")


def test_staff_may_withdraw_and_see_the_sale_but_not_a_sold_listing(client):
    listing = make_listing()
    winner, _ = make_negotiation(listing=listing, buyer=buyer())
    accept_commit(winner, price="410.00")
    headers = {"Authorization": f"Token {staff_token()}"}
    detail = client.get(f"/api/v1/listings/{listing.pk}", headers=headers).json()
    assert detail["sale"] == {"negotiation": winner.pk, "price": "410.00", "sold_at": detail["sold_at"]}
    assert "sale" not in client.get(f"/api/v1/listings/{listing.pk}").json()
    response = post(client, f"/api/v1/listings/{listing.pk}/withdraw", **headers)
    assert (response.status_code, error_code(response)) == (409, "LISTING_NOT_AVAILABLE")


def test_creating_a_negotiation_on_a_sold_listing_is_a_409_and_writes_nothing(client):
    listing = make_listing()
    accept_commit(make_negotiation(listing=listing, buyer=buyer())[0])
    count = Negotiation.objects.count()
    response = post(client, "/api/v1/negotiations", {"listing": listing.pk, "buyer": buyer(), "seller": SELLER})
    assert (response.status_code, error_code(response)) == (409, "LISTING_NOT_AVAILABLE")
    assert Negotiation.objects.count() == count


def test_a_negotiation_without_seller_uses_the_listings_seller_agent_or_is_a_400(client):
    agent = make_listing(seller=SELLER)
    response = post(client, "/api/v1/negotiations", {"listing": agent.pk, "buyer": buyer(), "start": False})
    assert response.status_code == 201
    assert Negotiation.objects.get(pk=response.json()["id"]).participants.get(role="seller").limit_price == 350
    bare = make_listing()
    response = post(client, "/api/v1/negotiations", {"listing": bare.pk, "buyer": buyer()})
    assert response.status_code == 400 and "seller" in response.json()["error"]["details"]["fields"]


# --- mandates ----------------------------------------------------------------------------------------
def test_a_mandate_is_created_read_and_cancelled_with_its_token(client, runner, django_capture_on_commit_callbacks):
    make_listing(title="Road bike", list_price="420", category="bikes", seller=SELLER)
    make_listing(title="City bike", list_price="380", category="bikes", seller=SELLER)
    with django_capture_on_commit_callbacks(execute=True):  # the starts hand over to the runner on commit
        created = post(client, "/api/v1/mandates", {"want": {"category": "bikes", "max_price": "450"}, "mode": "rule"})
    assert created.status_code == 201, created.content
    body = created.json()
    token = body["token"]
    assert body["status"] == "active" and len(body["negotiations"]) == 2 and len(runner.submitted) == 2
    assert created["Location"].endswith(f"/mandates/{body['id']}")

    assert client.get(f"/api/v1/mandates/{body['id']}").status_code == 401
    assert client.get(f"/api/v1/mandates/{body['id']}", headers={"Authorization": "Bearer nope"}).status_code == 401
    read = client.get(f"/api/v1/mandates/{body['id']}", headers={"Authorization": f"Bearer {token}"})
    assert read.status_code == 200 and read.json()["want"]["max_price"] == "450.00" and "token" not in read.json()
    # The mandate's token is the buyer's token in its negotiations.
    first = body["negotiations"][0]["id"]
    view = client.get(f"/api/v1/negotiations/{first}", headers={"Authorization": f"Bearer {token}"}).json()
    assert view["viewer"] == "buyer"
    assert [p.get("private") is not None for p in view["participants"]] == [True, False]

    cancelled = post(client, f"/api/v1/mandates/{body['id']}/cancel", Authorization=f"Bearer {token}")
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    again = post(client, f"/api/v1/mandates/{body['id']}/cancel", Authorization=f"Bearer {token}")
    assert (again.status_code, error_code(again)) == (409, "MANDATE_NOT_ACTIVE")


def test_a_token_of_another_mandate_is_a_404(client):
    make_listing(title="Road bike", list_price="420", seller=SELLER)
    one = post(client, "/api/v1/mandates", {"want": {"q": "bike", "max_price": "450"}, "mode": "rule"}).json()
    other = post(client, "/api/v1/mandates", {"want": {"q": "bike", "max_price": "400"}, "mode": "rule"}).json()
    response = client.get(f"/api/v1/mandates/{one['id']}", headers={"Authorization": f"Bearer {other['token']}"})
    assert response.status_code == 404


@pytest.mark.parametrize(
    "body, field",
    [
        ({}, "want"),
        ({"want": "bike"}, "want"),
        ({"want": {"q": "bike"}}, "want"),
        ({"want": {"q": "bike", "max_price": "-5"}}, "want"),
        ({"want": {"q": "bike", "max_price": "450", "colour": "red"}}, "want"),
        ({"want": {"q": "bike", "max_price": "450"}, "max_open": 0}, "max_open"),
        ({"want": {"q": "bike", "max_price": "450"}, "max_open": "3"}, "max_open"),
        ({"want": {"q": "bike", "max_price": "450"}, "mode": "psychic"}, "mode"),
        ({"want": {"q": "bike", "max_price": "450"}, "provider": "nobody"}, "provider"),
        ({"want": {"q": "bike", "max_price": "450"}, "budget": 1}, "budget"),
    ],
    ids=[
        "no-want",
        "want-not-object",
        "no-max-price",
        "negative",
        "unknown-want-field",
        "max-open-0",
        "max-open-string",
        "bad-mode",
        "unknown-provider",
        "unknown-field",
    ],
)
def test_a_bad_mandate_is_a_400_naming_the_field_and_writes_nothing(client, body, field):
    make_listing(title="Road bike", list_price="420", seller=SELLER)
    response = post(client, "/api/v1/mandates", body)
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["code"] == "VALIDATION_ERROR" and field in error["details"]["fields"]
    assert not Mandate.objects.exists() and not Negotiation.objects.exists()


def test_a_mandate_that_matches_nothing_is_a_409_and_writes_nothing(client):
    make_listing(title="Road bike", list_price="420", seller=SELLER)
    response = post(client, "/api/v1/mandates", {"want": {"q": "piano", "max_price": "450"}})
    assert (response.status_code, error_code(response)) == (409, "NO_MATCHING_LISTING")
    assert not Mandate.objects.exists() and not Negotiation.objects.exists()
