"""WHAT: the pages: the market (`/`), a listing, a negotiation's live view, and the create form.
WHY: people watch the market; every page reads through the same selectors, services and visibility
     rule as the API, so a page can never show what that viewer's API responses would not.
HOW: sync views rendering templates/web/; the live view renders the log so far and hands the rest to
     static/web/live.js, which reads the API's SSE stream (authenticated by the negotiation's cookie).
     `/` answers the API's JSON root to a client that does not ask for text/html. The form's model
     field offers the default provider's model list, asked with a short timeout (else free text).
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from asgiref.sync import async_to_sync
from django.db import DatabaseError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_http_methods

from health.apis import RootApi
from llm.exceptions import LLMError
from llm.registry import get_provider
from marketplace.errors import ApplicationError, RequestValidationError
from marketplace.gateway_keys import gateway_keys
from negotiations.api.access import is_staff
from negotiations.api.filters import listings_filtered
from negotiations.models import Event, Listing, Negotiation
from negotiations.selectors import (
    event_list_visible_to,
    listing_bodies,
    listing_get,
    listing_list,
    negotiation_view_get,
)
from negotiations.services import negotiation_create, negotiation_start
from negotiations.validation import MAX_ID
from web.access import forget_cookie, page_access, redirect_setting_cookie
from web.forms import NegotiationForm, form_errors_from
from web.headers import error_page, page_headers

__all__ = ["listing_page", "market_page", "negotiation_new_page", "negotiation_page"]

logger = logging.getLogger(__name__)

RECENT_SALES = 10
FINAL_OUTCOMES = {"agreed", "no_deal", "cancelled", "failed"}


def wants_html(request: HttpRequest) -> bool:
    return "text/html" in request.headers.get("Accept", "")


class MarketOrRootApi(RootApi):
    """`GET /`: the market page to a browser (Accept names text/html), else the API's JSON root (the
    OpenAPI schema documents that, as before)."""

    def get(self, request: Any) -> Any:
        if wants_html(request):
            return _market_page(request._request)
        return super().get(request)


market_page = MarketOrRootApi.as_view()


@page_headers
def _market_page(request: HttpRequest) -> HttpResponse:
    query = {name: request.GET.get(name, "").strip() for name in ("q", "category")}
    error = ""
    try:
        listings = list(listings_filtered({k: v for k, v in query.items() if v}, listing_list())[:100])
    except RequestValidationError as exc:
        listings, error = [], exc.message
    categories = sorted({c for c in Listing.objects.exclude(category="").values_list("category", flat=True)})
    sales = Listing.objects.filter(status=Listing.Status.SOLD).order_by("-sold_at")[:RECENT_SALES]
    context = {
        "listings": listing_bodies(listings),
        "query": query,
        "categories": categories,
        "sales": [{"id": s.pk, "title": s.title, "sold_at": s.sold_at} for s in sales],
        "error": error,
    }
    return render(request, "web/market.html", context)


@page_headers
def listing_page(request: HttpRequest, listing_id: int) -> HttpResponse:
    listing = listing_get(listing_id=listing_id) if 0 < listing_id <= MAX_ID else None
    if listing is None:
        return error_page(request, 404, "There is no such listing.")
    negotiations = (
        Negotiation.objects.filter(listing=listing)
        .order_by("-id")
        .values("id", "status", "rounds_used", "max_rounds", "created_at")
    )
    context = {"listing": listing_bodies([listing])[0], "negotiations": list(negotiations[:200])}
    return render(request, "web/listing.html", context)


@page_headers
def negotiation_page(request: HttpRequest, negotiation_id: int) -> HttpResponse:
    token = request.GET.get("token", "").strip()
    try:
        access = page_access(request, negotiation_id, token=token or None)
    except ApplicationError as exc:
        response = error_page(request, exc.http_status, exc.message)
        if not token and exc.http_status in (401, 404):
            forget_cookie(response, negotiation_id)  # a stale cookie: forget it
        return response
    if token:
        return redirect_setting_cookie(negotiation_id, token)
    view = negotiation_view_get(negotiation=access.negotiation, viewer=access.viewer)
    events = list(event_list_visible_to(negotiation=access.negotiation, viewer=access.viewer))
    outcome = next((e.data.get("result") for e in reversed(events) if e.type == Event.Type.OUTCOME), None)
    if outcome is None and view["status"] in FINAL_OUTCOMES:
        outcome = view["status"]
    sides = {side["role"]: side.get("private") for side in view["participants"]}
    last_seq = events[-1].seq if events else 0
    context = {
        "n": view,
        "viewer": access.viewer.role,
        "events": [_event_context(e) for e in events],
        "outcome": outcome,
        "own": sides,
        "last_seq": last_seq,
        "live": view["status"] in ("pending", "running"),
        "stream_url": f"/api/v1/negotiations/{negotiation_id}/stream?lastEventId={last_seq}",
    }
    response = render(request, "web/negotiation.html", context)
    response["Cache-Control"] = "no-store"
    return response


def _event_context(event: Event) -> dict[str, Any]:
    return {"seq": event.seq, "type": event.type, "actor": event.actor, "visibility": event.visibility, "d": event.data}


@page_headers
@require_http_methods(["GET", "POST"])
def negotiation_new_page(request: HttpRequest) -> HttpResponse:
    if gateway_keys() and not is_staff(request):
        return error_page(request, 401, "Creating a negotiation here needs a staff login (/admin/login/).")
    initial = {"listing": request.GET.get("listing")} if request.GET.get("listing", "").isdigit() else {}
    form = NegotiationForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            created = negotiation_create(**form.service_input())
            negotiation_start(negotiation=created.negotiation)
        except RequestValidationError as exc:
            form_errors_from(form, (exc.details or {}).get("fields", {}))
        except ApplicationError as exc:
            form.add_error(None, exc.message)
        else:
            base = request.build_absolute_uri(f"/negotiations/{created.negotiation.pk}/")
            seats = [(role, f"{base}?token={created.tokens[role]}") for role in ("buyer", "seller", "observer")]
            response = render(request, "web/created.html", {"negotiation": created.negotiation, "seats": seats})
            response["Cache-Control"] = "no-store"
            response["Referrer-Policy"] = "no-referrer"
            return response
    status = 400 if request.method == "POST" else 200
    default, listed = _provider_models()
    form.offer_models(listed, default)
    suggestions = [default] if default and listed is None else []
    return render(request, "web/new.html", {"form": form, "models": suggestions}, status=status)


MODEL_LIST_TIMEOUT = 2.0  # seconds the form waits for the provider's model list
MODEL_LIST_TTL = 30.0  # seconds an answer (or its absence) is reused: a silent provider costs one wait
_model_lists: dict[str, tuple[float, list[str] | None]] = {}  # provider name -> (expires, models)


def _provider_models() -> tuple[str, list[str] | None]:
    """The default provider's default model and the models it lists, or None for the list when the
    provider is unknown, fails, or does not answer within MODEL_LIST_TIMEOUT (the page never fails);
    either is kept for MODEL_LIST_TTL."""
    try:
        provider = get_provider(None)
    except (LLMError, DatabaseError):
        return "", None
    default, name = provider.default_model or "", getattr(provider, "name", "")
    cached = _model_lists.get(name)
    if cached is not None and cached[0] > time.monotonic():
        return default, cached[1]
    try:
        listed = async_to_sync(_list_models)(provider) or None
    except Exception as exc:  # a provider's failure or silence must not fail the form
        logger.info("model list of %s not available: %s", name or "?", type(exc).__name__)
        listed = None
    _model_lists[name] = (time.monotonic() + MODEL_LIST_TTL, listed)
    return default, listed


async def _list_models(provider: Any) -> list[str]:
    async with asyncio.timeout(MODEL_LIST_TIMEOUT):
        models = await provider.list_models()
    return list(dict.fromkeys(m.id for m in models if m.id))
