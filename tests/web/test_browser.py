"""Browser tests in real headless Chromium (Playwright, Debian's chromium): a whole negotiation watched
live (drafts appear, messages arrive once and in order, the outcome shows), what each viewer's DOM holds
(a buyer's limit, never the other side's; an observer neither), the form's errors, a bad token's page."""

from __future__ import annotations

import re

import httpx
import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from negotiations.engine import recovery
from negotiations.engine.asyncio_runner import AsyncioRunner
from negotiations.engine.engine import NegotiationEngine
from negotiations.engine.recovery import orphans_sweep_reset
from negotiations.engine.runners import set_runner
from negotiations.models import Event
from negotiations.services import listing_create, negotiation_create
from negotiations.visibility import Viewer, event_list_visible_to
from tests.support.asgi_server import LiveASGIServer
from tests.web.proxy import DroppingProxy

pytestmark = pytest.mark.browser

BUYER_LIMIT, SELLER_LIMIT = "456.78", "333.33"
TIMEOUT_MS = 30_000
OUTCOMES = re.compile(r"^(agreed|no_deal|cancelled|failed)$")


def pending_negotiation(*, mode: str = "narrate", max_rounds: int = 4, title: str = "Oak dining table"):
    listing = listing_create(title=title, list_price="500.00", category="furniture")
    created = negotiation_create(
        listing=listing,
        buyer={"limit_price": BUYER_LIMIT, "mode": mode},
        seller={"limit_price": SELLER_LIMIT, "mode": mode},
        max_rounds=max_rounds,
        seed=11,
    )
    return created.negotiation, created.tokens


def start(server, negotiation, token: str) -> None:
    response = httpx.post(
        f"{server.url}/api/v1/negotiations/{negotiation.pk}/start", headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 200, response.text


def open_seat(page: Page, server, negotiation, token: str) -> None:
    response = page.goto(f"{server.url}/negotiations/{negotiation.pk}/?token={token}")
    assert response is not None and response.status == 200
    assert "token=" not in page.url  # redirected: the token left the address bar
    expect(page.locator("#connection")).to_have_attribute("data-connection", "open", timeout=TIMEOUT_MS)


def shown_seqs(page: Page, selector: str = "[data-seq]") -> list[int]:
    return [int(s) for s in page.locator(selector).evaluate_all("nodes => nodes.map(n => n.dataset.seq)")]


def test_a_whole_negotiation_watched_live(server, page: Page):
    negotiation, tokens = pending_negotiation()
    open_seat(page, server, negotiation, tokens["buyer"])
    start(server, negotiation, tokens["buyer"])
    expect(page.locator("[data-draft]").first).to_be_attached(timeout=TIMEOUT_MS)  # a draft filling in
    outcome = page.locator("#outcome")
    expect(outcome).to_have_attribute("data-outcome", OUTCOMES, timeout=TIMEOUT_MS)
    result = Event.objects.get(negotiation=negotiation, type=Event.Type.OUTCOME).data["result"]
    assert outcome.get_attribute("data-outcome") == result
    seqs = shown_seqs(page)
    assert seqs == sorted(set(seqs)), "no event twice, all in seq order"
    expected = list(event_list_visible_to(negotiation=negotiation, viewer=Viewer.buyer()).values_list("seq", flat=True))
    assert seqs == expected
    messages = shown_seqs(page, ".msg[data-seq]")
    assert messages == list(
        event_list_visible_to(negotiation=negotiation, viewer=Viewer.buyer())
        .filter(type=Event.Type.MESSAGE)
        .values_list("seq", flat=True)
    )
    assert len(messages) >= 2
    assert page.locator("[data-draft]").count() == 0
    assert page.locator(".chart svg polyline").count() >= 1


def test_each_viewer_sees_only_its_own_private_values(server, browser):
    negotiation, tokens = pending_negotiation(mode="rule")
    pages = {}
    for role in ("buyer", "observer"):
        pages[role] = browser.new_context().new_page()
        open_seat(pages[role], server, negotiation, tokens[role])
    start(server, negotiation, tokens["buyer"])
    for page in pages.values():
        expect(page.locator("#outcome")).to_have_attribute("data-outcome", OUTCOMES, timeout=TIMEOUT_MS)
    buyer_dom = pages["buyer"].evaluate("document.documentElement.outerHTML")
    observer_dom = pages["observer"].evaluate("document.documentElement.outerHTML")
    assert BUYER_LIMIT in buyer_dom and SELLER_LIMIT not in buyer_dom
    assert BUYER_LIMIT not in observer_dom and SELLER_LIMIT not in observer_dom
    for token in tokens.values():
        assert token not in buyer_dom and token not in observer_dom
    # What the buyer's page shows (a reload renders the log server-side) equals what live showed.
    live = shown_seqs(pages["buyer"])
    pages["buyer"].reload()
    assert shown_seqs(pages["buyer"]) == live
    assert pages["buyer"].locator("[data-private=buyer]").count() == 1
    assert pages["buyer"].locator("[data-private=seller]").count() == 0


def test_the_form_shows_errors_beside_fields_then_the_seat_links(server, page: Page):
    listing = listing_create(title="Walnut desk", list_price="300.00")
    page.goto(f"{server.url}/negotiations/new?listing={listing.pk}")
    page.fill("#id_buyer_limit_price", "200")
    page.fill("#id_buyer_target_price", "250")
    page.fill("#id_seller_limit_price", "150")
    page.select_option("#id_buyer_mode", "rule")
    page.select_option("#id_seller_mode", "rule")
    page.click("button[type=submit]")
    error = page.locator('[data-error-for="buyer_target_price"]')
    expect(error).to_contain_text("above its limit")
    field = page.locator(".field", has=page.locator("#id_buyer_target_price"))
    expect(field.locator(".errorlist")).to_be_visible()
    page.fill("#id_buyer_target_price", "180")
    page.click("button[type=submit]")
    seats = page.locator("[data-seat]")
    expect(seats).to_have_count(3)
    observer_link = page.locator("[data-seat=observer] a").get_attribute("href")
    page.goto(observer_link)
    assert "token=" not in page.url
    expect(page.locator("[data-viewer-role]")).to_have_text("observer")


def test_a_bad_or_foreign_token_gets_a_clear_page_and_nothing_else(server, page: Page):
    negotiation, _ = pending_negotiation(mode="rule")
    other, other_tokens = pending_negotiation(mode="rule", title="Brass lamp")
    response = page.goto(f"{server.url}/negotiations/{negotiation.pk}/?token=not-a-real-token")
    assert response is not None and response.status == 401
    expect(page.locator("[data-error]")).to_contain_text("not valid")
    body = page.content()
    assert "Oak dining table" not in body and BUYER_LIMIT not in body and "data-seq" not in body
    response = page.goto(f"{server.url}/negotiations/{negotiation.pk}/?token={other_tokens['buyer']}")
    assert response is not None and response.status == 404
    assert "Oak dining table" not in page.content() and "Brass lamp" not in page.content()


def test_a_dropped_connection_resumes_with_no_message_twice(server, page: Page, settings):
    settings.NEGOTIATION_STREAM_RETRY_MS = 200
    negotiation, tokens = pending_negotiation(max_rounds=6)
    with DroppingProxy(server.port) as proxy:
        open_seat(page, proxy, negotiation, tokens["observer"])
        start(server, negotiation, tokens["buyer"])
        expect(page.locator(".msg[data-seq]").first).to_be_attached(timeout=TIMEOUT_MS)
        before = proxy.connections
        proxy.drop()
        negotiation.refresh_from_db()
        assert negotiation.status == "running", "the drop must come mid-negotiation"
        expect(page.locator("#outcome")).to_have_attribute("data-outcome", OUTCOMES, timeout=TIMEOUT_MS)
        assert proxy.connections > before, "EventSource reconnected"
    seqs = shown_seqs(page)
    assert seqs == sorted(set(seqs))
    assert seqs == list(
        event_list_visible_to(negotiation=negotiation, viewer=Viewer.observer()).values_list("seq", flat=True)
    )


def test_a_first_load_transfers_under_100_kb_before_events(server, page: Page):
    negotiation, tokens = pending_negotiation(mode="rule")
    sizes: dict[str, int] = {}

    def record(response) -> None:
        if "/stream" not in response.url and not 300 <= response.status < 400:
            sizes[response.url] = len(response.body())

    page.on("response", record)
    open_seat(page, server, negotiation, tokens["buyer"])  # a fresh context: nothing cached
    assert any(url.endswith(".css") for url in sizes) and any(url.endswith(".js") for url in sizes), sizes
    assert sum(sizes.values()) < 100_000, sizes


def test_a_server_restart_mid_negotiation_resumes_with_no_message_twice(
    browser_env, transactional_db, slow_llm, page: Page, settings, monkeypatch
):
    """Server A plays the negotiation and stops mid-way (its engine task dies with its loop); server B
    starts behind the same address (the proxy), resumes the orphan from the log at the first stream
    request (EventSource reconnecting), and the page ends with every event once, in order."""
    settings.NEGOTIATION_STREAM_RETRY_MS = 200
    previous = set_runner(AsyncioRunner(engine_factory=lambda: NegotiationEngine(provider_resolver=slow_llm.resolve)))
    servers = [LiveASGIServer().start()]
    try:
        negotiation, tokens = pending_negotiation(max_rounds=6)
        with DroppingProxy(servers[0].port) as proxy:
            open_seat(page, proxy, negotiation, tokens["seller"])
            start(servers[0], negotiation, tokens["seller"])
            expect(page.locator(".msg[data-seq]").first).to_be_attached(timeout=TIMEOUT_MS)
            servers[0].stop()
            negotiation.refresh_from_db()
            assert negotiation.status == "running", "the restart must come mid-negotiation"
            monkeypatch.setattr(recovery, "PROCESS_STARTED_AT", timezone.now())  # "this process" starts now
            set_runner(AsyncioRunner(engine_factory=lambda: NegotiationEngine(provider_resolver=slow_llm.resolve)))
            orphans_sweep_reset()
            settings.NEGOTIATION_RESUME_ORPHANS = True
            servers.append(LiveASGIServer().start())
            proxy.target_port = servers[1].port
            proxy.drop()
            expect(page.locator("#outcome")).to_have_attribute("data-outcome", OUTCOMES, timeout=TIMEOUT_MS)
        seqs = shown_seqs(page)
        assert seqs == sorted(set(seqs))
        assert seqs == list(
            event_list_visible_to(negotiation=negotiation, viewer=Viewer.seller()).values_list("seq", flat=True)
        )
    finally:
        servers[-1].stop()
        set_runner(previous)
