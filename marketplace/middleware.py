"""WHAT: Django's stock middleware (security, sessions, common, CSRF, auth, messages, clickjacking), with one
change: under ASGI their hooks run inline on the event loop unless that request needs I/O.
WHY: in async mode Django runs each hook of a sync middleware through `sync_to_async`, a thread hop per hook
     before the view even starts, though these hooks only read headers and cookies and set attributes.
HOW: `InlineHooksMixin.__acall__` replaces MiddlewareMixin's; a session save, a message store, sessions-backed
     CSRF or a CSRF check of a POSTed form still go to a thread (`request_needs_thread()` and friends). Sync
     mode is untouched. docs/adr/0002-inline-middleware-hooks.md: the figures, and when to delete this;
     settings.INLINE_MIDDLEWARE_HOOKS (DJANGO_INLINE_MIDDLEWARE_HOOKS=false) turns it off.
"""

from __future__ import annotations

from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings
from django.contrib.auth import middleware as auth
from django.contrib.messages import middleware as messages
from django.contrib.sessions import middleware as sessions
from django.http import HttpRequest, HttpResponseBase
from django.middleware import clickjacking, common, csrf, security

__all__ = [
    "AuthenticationMiddleware",
    "CommonMiddleware",
    "CsrfViewMiddleware",
    "InlineHooksMixin",
    "MessageMiddleware",
    "SecurityMiddleware",
    "SessionMiddleware",
    "XFrameOptionsMiddleware",
]

_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})


class InlineHooksMixin:
    """Runs process_request/process_response inline in async mode unless they say they need a thread."""

    def request_needs_thread(self, request: HttpRequest) -> bool:
        return False

    def response_needs_thread(self, request: HttpRequest, response: HttpResponseBase) -> bool:
        return False

    async def __acall__(self, request: HttpRequest) -> HttpResponseBase:
        response = None
        if hasattr(self, "process_request"):
            if self.request_needs_thread(request):
                response = await sync_to_async(self.process_request, thread_sensitive=True)(request)
            else:
                response = self.process_request(request)
        response = response or await self.get_response(request)
        if hasattr(self, "process_response"):
            if self.response_needs_thread(request, response):
                response = await sync_to_async(self.process_response, thread_sensitive=True)(request, response)
            else:
                response = self.process_response(request, response)
        return response


class SecurityMiddleware(InlineHooksMixin, security.SecurityMiddleware):
    pass


class SessionMiddleware(InlineHooksMixin, sessions.SessionMiddleware):
    def response_needs_thread(self, request: HttpRequest, response: HttpResponseBase) -> bool:
        session = getattr(request, "session", None)
        return session is not None and (session.modified or settings.SESSION_SAVE_EVERY_REQUEST)  # a save


class CommonMiddleware(InlineHooksMixin, common.CommonMiddleware):
    pass


class CsrfViewMiddleware(InlineHooksMixin, csrf.CsrfViewMiddleware):
    def __init__(self, get_response: Any) -> None:
        super().__init__(get_response)
        if self.async_mode:
            # Django would wrap a sync process_view in sync_to_async; an async one it awaits as is.
            self.process_view = self._aprocess_view

    async def _aprocess_view(
        self, request: HttpRequest, callback: Any, callback_args: Any, callback_kwargs: Any
    ) -> Any:
        hook = super().process_view
        if settings.CSRF_USE_SESSIONS or not (
            getattr(callback, "csrf_exempt", False) or request.method in _SAFE_METHODS
        ):
            # The check reads the session or request.POST (form parsing, maybe temp files).
            return await sync_to_async(hook, thread_sensitive=True)(request, callback, callback_args, callback_kwargs)
        return hook(request, callback, callback_args, callback_kwargs)

    def request_needs_thread(self, request: HttpRequest) -> bool:
        return settings.CSRF_USE_SESSIONS

    def response_needs_thread(self, request: HttpRequest, response: HttpResponseBase) -> bool:
        return settings.CSRF_USE_SESSIONS


class AuthenticationMiddleware(InlineHooksMixin, auth.AuthenticationMiddleware):
    pass


class MessageMiddleware(InlineHooksMixin, messages.MessageMiddleware):
    def response_needs_thread(self, request: HttpRequest, response: HttpResponseBase) -> bool:
        storage = getattr(request, "_messages", None)
        return storage is not None and (storage.used or storage.added_new)  # a store (session or cookie)


class XFrameOptionsMiddleware(InlineHooksMixin, clickjacking.XFrameOptionsMiddleware):
    pass
