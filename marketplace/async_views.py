"""WHAT: `AsyncApiView`, the base of API endpoints that must be native async Django views (token
streaming, upstream calls), yet appear in the OpenAPI schema like every DRF view.
WHY: DRF's APIView is sync-only: under ASGI it would hold a worker thread for the whole of a stream and
     add thread hops to every request. drf-spectacular, though, documents only APIView subclasses.
HOW: subclass it and write `async def get/post(self, request)` returning Django responses, decorated
     with `extend_schema` as usual. `dispatch` is async and skips DRF's request wrapping, permissions and
     throttling; it runs only the view's `authentication_classes` (see there). Errors go through the one
     mapping, `marketplace.api_errors.error_response`.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse, HttpResponseBase
from rest_framework import exceptions as drf_exceptions
from rest_framework.views import APIView

from marketplace.api_errors import error_response

__all__ = ["AsyncApiView"]


class AsyncApiView(APIView):
    """An APIView served as a plain async view: only `options` may stay sync (it is answered here)."""

    # Nothing of DRF's request pipeline runs but these authenticators, on the plain Django request and
    # inline on the event loop, so they must do no I/O: e.g. the LLM gateway's optional key check
    # (marketplace/gateway_keys.py), which a URLconf sets with `as_view(authentication_classes=...)`.
    # An authenticator refuses by raising.
    authentication_classes: list = []
    permission_classes: list = []

    async def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        self.args, self.kwargs, self.request = args, kwargs, request
        method = request.method.lower() if request.method else ""
        try:
            if method == "options":
                return HttpResponse(headers={"Allow": ", ".join(self._allowed_methods())})
            handler = getattr(self, method, None) if method in self.http_method_names else None
            if handler is None:
                raise drf_exceptions.MethodNotAllowed(request.method)
            for authenticator in self.get_authenticators():
                if authenticator.authenticate(request) is not None:
                    break
            return await handler(request, *args, **kwargs)
        except Exception as exc:
            response = error_response(exc)
            if isinstance(exc, drf_exceptions.MethodNotAllowed):
                response["Allow"] = ", ".join(self._allowed_methods())
            return response
