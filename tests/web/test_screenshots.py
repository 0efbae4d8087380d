"""Screenshots of the three main pages for docs/images/ (docs/web.md, README): run with
WEB_SCREENSHOTS=1; skipped otherwise, so the suite never rewrites the docs."""

from __future__ import annotations

import os
from pathlib import Path

import httpx
import pytest
from django.conf import settings
from django.utils import timezone
from playwright.sync_api import Page, expect

from negotiations.models import Listing
from negotiations.services import listing_create, negotiation_create

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not os.environ.get("WEB_SCREENSHOTS"), reason="set WEB_SCREENSHOTS=1 to refresh docs/images/"),
]

IMAGES = Path(settings.BASE_DIR) / "docs" / "images"


def test_take_screenshots(server, page: Page):
    IMAGES.mkdir(parents=True, exist_ok=True)
    table = listing_create(
        title="Oak dining table", list_price="500.00", category="furniture", description="Solid oak, seats six."
    )
    listing_create(title="Red road bicycle", list_price="320.00", category="bikes")
    listing_create(title="Espresso machine", list_price="180.00", category="kitchen")
    lamp = listing_create(title="Brass desk lamp", list_price="60.00", category="furniture")
    Listing.objects.filter(pk=lamp.pk).update(status="sold", sold_at=timezone.now(), sold_price="52.00")
    created = negotiation_create(
        listing=table,
        buyer={"limit_price": "456.78", "target_price": "400.00", "mode": "rule"},
        seller={"limit_price": "380.00", "target_price": "480.00", "mode": "rule"},
        max_rounds=5,
        seed=3,
    )
    negotiation_create(listing=table, buyer={"limit_price": "420.00"}, seller={"limit_price": "390.00"})
    page.set_viewport_size({"width": 1200, "height": 820})
    page.goto(f"{server.url}/negotiations/{created.negotiation.pk}/?token={created.tokens['buyer']}")
    expect(page.locator("#connection")).to_have_attribute("data-connection", "open")
    response = httpx.post(
        f"{server.url}/api/v1/negotiations/{created.negotiation.pk}/start",
        headers={"Authorization": f"Bearer {created.tokens['buyer']}"},
    )
    assert response.status_code == 200
    expect(page.locator("#outcome")).to_have_attribute("data-outcome", "agreed", timeout=30_000)
    page.screenshot(path=IMAGES / "web-negotiation.png", full_page=True)
    page.goto(f"{server.url}/")
    page.screenshot(path=IMAGES / "web-market.png", full_page=True)
    page.goto(f"{server.url}/listings/{table.pk}/")
    page.screenshot(path=IMAGES / "web-listing.png", full_page=True)
    page.set_viewport_size({"width": 390, "height": 800})
    page.emulate_media(color_scheme="dark")
    page.goto(f"{server.url}/")
    page.screenshot(path=IMAGES / "web-market-phone-dark.png", full_page=True)
