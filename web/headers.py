"""WHAT: the security headers of every web page (`page_headers`) and the error page (`error_page`).
WHY: the pages show private prices to their owner: no inline script may run (CSP), no other site may
     frame them (X-Frame-Options, frame-ancestors), and a page that showed tokens is never cached.
HOW: a decorator that sets a strict Content-Security-Policy (scripts, styles and connections from this
     origin only) on the view's response; clickjacking's X-Frame-Options comes from the middleware.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

__all__ = ["CONTENT_SECURITY_POLICY", "error_page", "page_headers"]

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)


def page_headers(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        response = view(request, *args, **kwargs)
        response.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        response.setdefault("X-Frame-Options", "DENY")
        return response

    return wrapper


def error_page(request: HttpRequest, status: int, message: str) -> HttpResponse:
    """A plain page for 401/403/404: what went wrong, nothing about the negotiation."""
    titles = {401: "Not signed in to this negotiation", 403: "Not allowed", 404: "Not found"}
    context = {"status": status, "title": titles.get(status, "Error"), "message": message}
    return render(request, "web/error.html", context, status=status)
