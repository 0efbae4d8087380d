"""Django test-client checks of the web pages: the JSON root, access by token/cookie/staff, redirects,
the cookie's attributes, security headers, 401/404 pages that leak nothing, the form and its errors,
the stream endpoint accepting the page's cookie (negotiations/api/access.py request_token), and the
form's model field from the provider's model list (or free text when the provider does not answer)."""

from __future__ import annotations

import asyncio
import time

import pytest
from django.test import Client

from llm.types import ModelInfo
from negotiations.api.access import negotiation_cookie_name, request_token
from negotiations.models import Listing, Negotiation
from negotiations.services import listing_create, negotiation_create
from tests.support.fake_provider import FakeProvider
from web import views

pytestmark = pytest.mark.django_db

HTML = {"HTTP_ACCEPT": "text/html,application/xhtml+xml"}
BUYER_LIMIT, SELLER_LIMIT = "456.78", "333.33"


@pytest.fixture(autouse=True)
def models_listed(monkeypatch):
    """Every form render asks the provider for its models: the scripted fake answers, nothing is cached."""
    monkeypatch.setattr(views, "get_provider", lambda name=None: ListingProvider(default_model="fake-model"))
    monkeypatch.setattr(views, "_model_lists", {})


def make_negotiation(title="Oak dining table"):
    listing = listing_create(title=title, list_price="500.00", category="furniture")
    created = negotiation_create(
        listing=listing,
        buyer={"limit_price": BUYER_LIMIT, "mode": "rule"},
        seller={"limit_price": SELLER_LIMIT, "mode": "rule"},
        max_rounds=4,
        seed=7,
    )
    return created.negotiation, created.tokens


def enter(client: Client, negotiation: Negotiation, token: str):
    """The ?token= visit; returns the redirect response (the cookie is now in the client)."""
    return client.get(f"/negotiations/{negotiation.pk}/", {"token": token}, **HTML)


def test_root_answers_json_to_api_clients_and_html_to_browsers(client):
    assert client.get("/", HTTP_ACCEPT="application/json").json()["health"] == "/api/v1/health"
    assert client.get("/").json()["docs"] == "/api/docs/"
    page = client.get("/", **HTML)
    assert page.status_code == 200 and page["Content-Type"].startswith("text/html")
    assert "script-src 'self'" in page["Content-Security-Policy"]
    assert page["X-Frame-Options"] == "DENY"


def test_market_lists_filters_and_counts_open_negotiations(client):
    negotiation, _ = make_negotiation()
    listing_create(title="Red bicycle", list_price="120.00", category="bikes")
    page = client.get("/", **HTML).content.decode()
    assert "Oak dining table" in page and "Red bicycle" in page and "1 open negotiation" in page
    filtered = client.get("/", {"q": "bicycle"}, **HTML).content.decode()
    assert "Red bicycle" in filtered and "Oak dining table" not in filtered
    by_category = client.get("/", {"category": "furniture"}, **HTML).content.decode()
    assert "Oak dining table" in by_category and "Red bicycle" not in by_category


def test_recent_sales_show_no_price(client):
    negotiation, _ = make_negotiation("Sold lamp")
    Listing.objects.filter(pk=negotiation.listing_id).update(
        status="sold", sold_price="432.10", sold_negotiation=negotiation, sold_at="2026-01-01T00:00:00Z"
    )
    page = client.get("/", **HTML).content.decode()
    assert "Sold lamp" in page and "432.10" not in page


def test_listing_page_shows_public_fields_and_its_negotiations(client):
    negotiation, _ = make_negotiation()
    page = client.get(f"/listings/{negotiation.listing_id}/", **HTML)
    body = page.content.decode()
    assert page.status_code == 200 and f'data-negotiation="{negotiation.pk}"' in body
    assert BUYER_LIMIT not in body and SELLER_LIMIT not in body
    assert client.get("/listings/999999/", **HTML).status_code == 404


def test_token_is_moved_into_a_scoped_httponly_cookie_and_redirected_away(client, settings):
    settings.DEBUG = False
    negotiation, tokens = make_negotiation()
    response = enter(client, negotiation, tokens["buyer"])
    assert response.status_code == 302 and response["Location"] == f"/negotiations/{negotiation.pk}/"
    assert tokens["buyer"] not in response["Location"]
    cookies = [m for m in response.cookies.values() if m.key == negotiation_cookie_name(negotiation.pk)]
    assert {m["path"] for m in cookies} == {
        f"/negotiations/{negotiation.pk}/",
        f"/api/v1/negotiations/{negotiation.pk}",
    }
    for morsel in cookies:
        assert morsel["httponly"] and morsel["secure"] and morsel["samesite"] == "Lax"
    page = client.get(f"/negotiations/{negotiation.pk}/", **HTML)
    body = page.content.decode()
    assert page.status_code == 200 and 'data-viewer="buyer"' in body
    assert tokens["buyer"] not in body and tokens["seller"] not in body and tokens["observer"] not in body
    assert BUYER_LIMIT in body and SELLER_LIMIT not in body
    assert page["Cache-Control"] == "no-store"


def test_observer_page_shows_neither_limit(client):
    negotiation, tokens = make_negotiation()
    enter(client, negotiation, tokens["observer"])
    body = client.get(f"/negotiations/{negotiation.pk}/", **HTML).content.decode()
    assert 'data-viewer="observer"' in body
    assert BUYER_LIMIT not in body and SELLER_LIMIT not in body


def test_seller_page_shows_its_limit_only(client):
    negotiation, tokens = make_negotiation()
    enter(client, negotiation, tokens["seller"])
    body = client.get(f"/negotiations/{negotiation.pk}/", **HTML).content.decode()
    assert SELLER_LIMIT in body and BUYER_LIMIT not in body


def test_bad_token_is_401_and_foreign_token_is_404_and_nothing_leaks(client):
    negotiation, _ = make_negotiation()
    other, other_tokens = make_negotiation("Other thing")
    bad = enter(client, negotiation, "not-a-token")
    assert bad.status_code == 401 and not bad.cookies.get(negotiation_cookie_name(negotiation.pk), None)
    body = bad.content.decode()
    assert "Oak dining table" not in body and 'data-error="401"' in body
    foreign = enter(client, negotiation, other_tokens["buyer"])
    assert foreign.status_code == 404 and "Oak dining table" not in foreign.content.decode()
    assert client.get("/negotiations/999999/", **HTML).status_code == 401  # no credentials: 401 first


def test_no_credentials_is_401_and_staff_login_sees_everything(client, django_user_model):
    negotiation, _ = make_negotiation()
    assert client.get(f"/negotiations/{negotiation.pk}/", **HTML).status_code == 401
    staff = django_user_model.objects.create_user("boss", password="pw-boss-123", is_staff=True)
    client.force_login(staff)
    body = client.get(f"/negotiations/{negotiation.pk}/", **HTML).content.decode()
    assert 'data-viewer="staff"' in body and BUYER_LIMIT in body and SELLER_LIMIT in body
    assert client.get("/negotiations/999999/", **HTML).status_code == 404


def test_a_stale_cookie_is_401_and_forgotten(client):
    negotiation, _ = make_negotiation()
    client.cookies[negotiation_cookie_name(negotiation.pk)] = "stale"
    response = client.get(f"/negotiations/{negotiation.pk}/", **HTML)
    assert response.status_code == 401
    assert all(m.value == "" for m in response.cookies.values())


def test_request_token_takes_the_negotiations_cookie_for_gets_of_its_routes_only(rf):
    from django.urls import resolve

    request = rf.get("/api/v1/negotiations/5/stream")
    request.COOKIES[negotiation_cookie_name(5)] = "tok"
    request.resolver_match = resolve("/api/v1/negotiations/5/stream")
    assert request_token(request) == "tok"
    other = rf.get("/api/v1/negotiations/6/stream")
    other.COOKIES[negotiation_cookie_name(5)] = "tok"
    other.resolver_match = resolve("/api/v1/negotiations/6/stream")
    assert request_token(other) is None
    post = rf.post("/api/v1/negotiations/5/cancel")
    post.COOKIES[negotiation_cookie_name(5)] = "tok"
    post.resolver_match = resolve("/api/v1/negotiations/5/cancel")
    assert request_token(post) is None  # a cookie never authorizes a change


def test_the_api_accepts_the_pages_cookie(client):
    negotiation, tokens = make_negotiation()
    enter(client, negotiation, tokens["observer"])
    response = client.get(f"/api/v1/negotiations/{negotiation.pk}")
    assert response.status_code == 200 and response.json()["viewer"] == "observer"
    assert client.post(f"/api/v1/negotiations/{negotiation.pk}/cancel").status_code == 401


def test_form_shows_errors_beside_fields(client):
    listing = listing_create(title="Desk", list_price="200.00")
    response = client.get("/negotiations/new", **HTML)
    assert response.status_code == 200 and "csrfmiddlewaretoken" in response.content.decode()
    bad = client.post(
        "/negotiations/new",
        {
            "listing": listing.pk,
            "buyer_limit_price": "100",
            "buyer_target_price": "150",
            "buyer_strategy": "linear",
            "buyer_mode": "rule",
            "seller_limit_price": "",
            "seller_strategy": "linear",
            "seller_mode": "rule",
        },
        **HTML,
    )
    body = bad.content.decode()
    assert bad.status_code == 400
    assert 'data-error-for="seller_limit_price"' in body
    # The services' own rule (a buyer's target above its limit), shown beside its field.
    service = client.post(
        "/negotiations/new",
        {
            "listing": listing.pk,
            "buyer_limit_price": "100",
            "buyer_target_price": "150",
            "buyer_strategy": "linear",
            "buyer_mode": "rule",
            "seller_limit_price": "80",
            "seller_strategy": "linear",
            "seller_mode": "rule",
        },
        **HTML,
    )
    body = service.content.decode()
    assert service.status_code == 400
    assert 'data-error-for="buyer_target_price"' in body and "above its limit" in body
    assert not Negotiation.objects.exists()


def test_form_creates_starts_and_shows_the_seat_links_once(client):
    listing = listing_create(title="Desk", list_price="200.00")
    data = {"listing": listing.pk, "max_rounds": 3}
    for role, limit in (("buyer", "180"), ("seller", "120")):
        data.update({f"{role}_limit_price": limit, f"{role}_strategy": "linear", f"{role}_mode": "rule"})
    response = client.post("/negotiations/new", data, **HTML)
    assert response.status_code == 200, response.content.decode()[:2000]
    negotiation = Negotiation.objects.get()
    assert negotiation.status == "running"
    body = response.content.decode()
    assert body.count("data-seat=") == 3 and response["Cache-Control"] == "no-store"
    for role in ("buyer", "seller", "observer"):
        assert f'data-seat="{role}"' in body


def test_form_needs_staff_when_gateway_keys_are_set(client, settings):
    settings.LLM_GATEWAY_API_KEYS = ["k" * 32]
    response = client.get("/negotiations/new", **HTML)
    assert response.status_code == 401


def test_static_files_are_served(client):
    response = client.get("/static/web/live.js")
    assert response.status_code == 200
    assert b"EventSource" in b"".join(response.streaming_content)


class ListingProvider(FakeProvider):
    """The scripted fake LLM listing three models."""

    async def list_models(self) -> list[ModelInfo]:
        return [ModelInfo(id=name) for name in ("fake-model", "small-1", "large-2")]


class SilentProvider(FakeProvider):
    """A provider that never answers its model list."""

    async def list_models(self) -> list[ModelInfo]:
        await asyncio.Event().wait()
        return []


def test_form_offers_the_models_the_provider_lists(client):
    body = client.get("/negotiations/new", **HTML).content.decode()
    assert '<select name="model"' in body
    for name in ("fake-model", "small-1", "large-2"):
        assert f'<option value="{name}">{name}</option>' in body
    assert "Provider default (fake-model)" in body


def test_form_falls_back_to_free_text_when_the_provider_does_not_answer(client, monkeypatch):
    monkeypatch.setattr(views, "get_provider", lambda name=None: SilentProvider(default_model="fake-model"))
    monkeypatch.setattr(views, "MODEL_LIST_TIMEOUT", 0.2)
    started = time.monotonic()
    response = client.get("/negotiations/new", **HTML)
    assert response.status_code == 200 and time.monotonic() - started < 5
    body = response.content.decode()
    assert '<select name="model"' not in body and 'list="known-models"' in body
    assert '<option value="fake-model">' in body and 'placeholder="fake-model"' in body


def test_form_falls_back_to_free_text_when_the_provider_fails(client, monkeypatch):
    class Failing(FakeProvider):
        async def list_models(self) -> list[ModelInfo]:
            raise ConnectionRefusedError("no server")

    monkeypatch.setattr(views, "get_provider", lambda name=None: Failing(default_model="fake-model"))
    response = client.get("/negotiations/new", **HTML)
    assert response.status_code == 200 and 'list="known-models"' in response.content.decode()


def test_the_model_list_or_its_absence_is_kept_for_a_while(client, monkeypatch):
    asked = []

    class Counting(SilentProvider):
        async def list_models(self) -> list[ModelInfo]:
            asked.append(1)
            return await super().list_models()

    monkeypatch.setattr(views, "get_provider", lambda name=None: Counting(default_model="fake-model"))
    monkeypatch.setattr(views, "MODEL_LIST_TIMEOUT", 0.1)
    for _ in range(3):
        assert 'list="known-models"' in client.get("/negotiations/new", **HTML).content.decode()
    assert len(asked) == 1


def test_a_listed_model_is_used_by_both_sides(client):
    listing = listing_create(title="Desk", list_price="200.00")
    data = {"listing": listing.pk, "max_rounds": 3, "model": "small-1"}
    for role, limit in (("buyer", "180"), ("seller", "120")):
        data.update({f"{role}_limit_price": limit, f"{role}_strategy": "linear", f"{role}_mode": "rule"})
    response = client.post("/negotiations/new", data, **HTML)
    assert response.status_code == 200, response.content.decode()[:2000]
    sides = Negotiation.objects.get().participants.values_list("model", flat=True)
    assert set(sides) == {"small-1"}
