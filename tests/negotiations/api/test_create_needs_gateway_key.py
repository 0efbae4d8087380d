"""Creating a negotiation spends the model: with gateway keys set (LLM_GATEWAY_API_KEYS) it needs one of
them or staff, else 401 NOT_AUTHENTICATED and nothing written; with no keys set anyone may create."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from negotiations.models import Negotiation
from negotiations.services import listing_create

pytestmark = pytest.mark.django_db

KEY = "gw-key-0123456789"


@pytest.fixture
def body() -> dict:
    listing = listing_create(title="Oak dining table", list_price="500.00")
    return {
        "listing": listing.pk,
        "buyer": {"limit_price": "450.00", "mode": "rule"},
        "seller": {"limit_price": "350.00", "mode": "rule"},
        "start": False,
    }


def create(client: Client, body: dict, **headers: str):
    return client.post("/api/v1/negotiations", body, content_type="application/json", headers=headers)


@pytest.mark.parametrize(
    "headers,message",
    [
        ({}, "needs one of the gateway's API keys"),
        ({"Authorization": "Bearer wrong-key"}, "not valid"),
        ({"Authorization": f"Basic {KEY}"}, "needs one of the gateway's API keys"),
    ],
    ids=["none", "wrong", "not-bearer"],
)
def test_without_a_gateway_key_creating_is_401_and_writes_nothing(settings, body, headers, message):
    settings.LLM_GATEWAY_API_KEYS = [KEY]
    response = create(Client(), body, **headers)
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Bearer"
    assert response.json()["error"]["code"] == "NOT_AUTHENTICATED"
    assert message in response.json()["error"]["message"]
    assert KEY not in response.content.decode()
    assert Negotiation.objects.count() == 0


def test_a_gateway_key_may_create(settings, body):
    settings.LLM_GATEWAY_API_KEYS = ["other-key", KEY]
    response = create(Client(), body, Authorization=f"Bearer {KEY}")
    assert response.status_code == 201, response.content
    assert set(response.json()["tokens"]) == {"buyer", "seller", "observer"}


def test_staff_may_create_without_a_key(settings, body):
    settings.LLM_GATEWAY_API_KEYS = [KEY]
    get_user_model().objects.create_user("staff", password="pw-staff-123", is_staff=True)
    client = Client()
    client.login(username="staff", password="pw-staff-123")
    assert create(client, body).status_code == 201


def test_a_logged_in_non_staff_user_still_needs_a_key(settings, body):
    settings.LLM_GATEWAY_API_KEYS = [KEY]
    get_user_model().objects.create_user("someone", password="pw-someone-123")
    client = Client()
    client.login(username="someone", password="pw-someone-123")
    assert create(client, body).status_code == 401
    assert Negotiation.objects.count() == 0
    # the session stops DRF's authenticators before the key's; the key still counts
    assert create(client, body, Authorization=f"Bearer {KEY}").status_code == 201


def test_without_gateway_keys_anyone_may_create(settings, body):
    settings.LLM_GATEWAY_API_KEYS = []
    assert create(Client(), body).status_code == 201


def test_reading_the_catalogue_and_creating_listings_need_no_key(settings):
    settings.LLM_GATEWAY_API_KEYS = [KEY]
    client = Client()
    created = client.post("/api/v1/listings", {"title": "Lamp", "list_price": "20"}, content_type="application/json")
    assert created.status_code == 201
    assert client.get("/api/v1/listings").status_code == 200
