"""WHAT: who is looking at a negotiation page: `?token=` once (then a cookie), the cookie, or staff.
WHY: the page must show exactly what that viewer's API responses show, so it asks the API's own access
     rule (`negotiation_access_get`: 401 for a token that matches nothing, 404 for another negotiation's).
HOW: a valid `?token=` is moved into an HttpOnly, SameSite=Lax cookie (Secure unless DEBUG) on the page's
     path and on the negotiation's API path (its SSE stream reads it: access.request_token), then the
     browser is redirected to the URL without it, so the token leaves the address bar and the history.
"""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect

from negotiations.api.access import NegotiationAccess, is_staff, negotiation_access_get, negotiation_cookie_name

__all__ = ["cookie_paths", "forget_cookie", "page_access", "redirect_setting_cookie"]

COOKIE_MAX_AGE = 30 * 24 * 3600


def cookie_paths(negotiation_id: int) -> tuple[str, str]:
    """The page's path and the API's (the stream), the only paths the cookie is sent to."""
    return f"/negotiations/{negotiation_id}/", f"/api/v1/negotiations/{negotiation_id}"


def page_access(request: HttpRequest, negotiation_id: int, *, token: str | None = None) -> NegotiationAccess:
    """The viewer of this request (the given token, else the cookie, else staff); raises 401/404 errors."""
    if token is None:
        token = request.COOKIES.get(negotiation_cookie_name(negotiation_id), "").strip() or None
    staff = token is None and is_staff(request)
    return negotiation_access_get(negotiation_id=negotiation_id, token=token, staff=staff)


def redirect_setting_cookie(negotiation_id: int, token: str) -> HttpResponse:
    page_path, _ = cookie_paths(negotiation_id)
    response = HttpResponseRedirect(page_path)
    _set_cookies(response, negotiation_id, token, max_age=COOKIE_MAX_AGE)
    response["Cache-Control"] = "no-store"
    response["Referrer-Policy"] = "no-referrer"
    return response


def forget_cookie(response: HttpResponse, negotiation_id: int) -> None:
    _set_cookies(response, negotiation_id, "", max_age=0)


def _set_cookies(response: HttpResponse, negotiation_id: int, value: str, *, max_age: int) -> None:
    """One cookie name on two paths: `response.cookies` is keyed by name, so the second path's morsel is
    stored under another key (a SimpleCookie renders each morsel with its own name)."""
    name = negotiation_cookie_name(negotiation_id)
    for index, path in enumerate(cookie_paths(negotiation_id)):
        response.set_cookie(
            name, value, max_age=max_age, path=path, secure=not settings.DEBUG, httponly=True, samesite="Lax"
        )
        if index == 0:
            morsel = response.cookies.pop(name)
            dict.__setitem__(response.cookies, f"{name}:{path}", morsel)
