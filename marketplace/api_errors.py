"""WHAT: the one mapping from exceptions to the API's error envelope
`{"error": {"code", "message", "details"?}}`, for DRF views, plain async views and SSE streams.
WHY: clients branch on `code`; it must not depend on which kind of view failed, and no traceback or
     secret may ever leak into a response.
HOW: `error_info(exc)` classifies any exception; the three adapters below shape it for their caller.
     Unknown exceptions are logged (server-side only) and reported as 500 INTERNAL_ERROR. Known secrets
     (marketplace/logging.py's list) are masked in messages and details, which may quote an upstream.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import PermissionDenied, RequestDataTooBig, SuspiciousOperation
from django.http import Http404, JsonResponse
from rest_framework import exceptions as drf_exceptions
from rest_framework.response import Response

from marketplace.errors import ApplicationError
from marketplace.logging import redact, redact_structure

logger = logging.getLogger(__name__)

# DRF's own exceptions, by class, to our codes. Looked up along the MRO, most specific first.
_DRF_CODES: dict[type[Exception], str] = {
    drf_exceptions.ValidationError: "VALIDATION_ERROR",
    drf_exceptions.ParseError: "VALIDATION_ERROR",
    drf_exceptions.NotAuthenticated: "NOT_AUTHENTICATED",
    drf_exceptions.AuthenticationFailed: "NOT_AUTHENTICATED",
    drf_exceptions.PermissionDenied: "PERMISSION_DENIED",
    drf_exceptions.NotFound: "NOT_FOUND",
    drf_exceptions.MethodNotAllowed: "METHOD_NOT_ALLOWED",
    drf_exceptions.NotAcceptable: "NOT_ACCEPTABLE",
    drf_exceptions.UnsupportedMediaType: "UNSUPPORTED_MEDIA_TYPE",
    drf_exceptions.Throttled: "RATE_LIMITED",
}


@dataclass(frozen=True)
class ErrorInfo:
    status: int
    code: str
    message: str
    details: dict[str, Any] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.details:
            error["details"] = self.details
        return {"error": error}


def error_info(exc: BaseException) -> ErrorInfo:
    """Classify any exception into status, code, message, details and response headers."""
    if isinstance(exc, ApplicationError):
        headers = dict(getattr(exc, "response_headers", {}) or {})
        # Messages and details may quote an upstream's answer (details.excerpt), which may echo a key.
        return ErrorInfo(exc.http_status, exc.code, redact(exc.message), redact_structure(dict(exc.details)), headers)
    if isinstance(exc, RequestDataTooBig):
        return ErrorInfo(413, "VALIDATION_ERROR", "The request body is too large.")
    if isinstance(exc, Http404):
        return ErrorInfo(404, "NOT_FOUND", "Not found.")
    if isinstance(exc, PermissionDenied):
        return ErrorInfo(403, "PERMISSION_DENIED", "You do not have permission to perform this action.")
    if isinstance(exc, SuspiciousOperation):
        return ErrorInfo(400, "VALIDATION_ERROR", "The request is invalid.")
    if isinstance(exc, drf_exceptions.APIException):
        return _drf_error_info(exc)
    logger.error("Unhandled error: %s", exc.__class__.__name__, exc_info=exc)
    return ErrorInfo(500, "INTERNAL_ERROR", "Internal server error.")


def _drf_error_info(exc: drf_exceptions.APIException) -> ErrorInfo:
    code = next((_DRF_CODES[cls] for cls in type(exc).__mro__ if cls in _DRF_CODES), "API_ERROR")
    headers: dict[str, str] = {}
    if isinstance(exc, drf_exceptions.Throttled) and exc.wait is not None:
        headers["Retry-After"] = str(int(exc.wait))
    if isinstance(exc, drf_exceptions.ValidationError):
        detail = exc.detail if isinstance(exc.detail, dict) else {"non_field_errors": exc.detail}
        return ErrorInfo(exc.status_code, code, "The request is invalid.", {"fields": detail}, headers)
    message = str(exc.detail) if not isinstance(exc.detail, (dict, list)) else str(exc.default_detail)
    return ErrorInfo(exc.status_code, code, message, {}, headers)


def drf_exception_handler(exc: Exception, context: dict[str, Any]) -> Response:
    """REST_FRAMEWORK["EXCEPTION_HANDLER"]: every DRF view's errors in our envelope."""
    if isinstance(exc, (drf_exceptions.NotAuthenticated, drf_exceptions.AuthenticationFailed)):
        # DRF would turn 401 into 403 when no authenticator offers a WWW-Authenticate header.
        info = _drf_error_info(exc)
        return Response(info.body(), status=401, headers={"WWW-Authenticate": "Bearer", **info.headers})
    info = error_info(exc)
    return Response(info.body(), status=info.status, headers=info.headers)


def error_response(exc: BaseException) -> JsonResponse:
    """A JSON error response for plain (non-DRF) views."""
    info = error_info(exc)
    response = JsonResponse(info.body(), status=info.status)
    for name, value in info.headers.items():
        response[name] = value
    return response


def sse_error_event(exc: BaseException) -> bytes:
    """The final `data: {"error": ...}` event of a stream that fails after its first byte."""
    return b"data: " + json.dumps(error_info(exc).body()).encode() + b"\n\n"


def json_404_handler(request, exception=None) -> JsonResponse:
    return error_response(Http404())


def json_500_handler(request) -> JsonResponse:
    return JsonResponse(ErrorInfo(500, "INTERNAL_ERROR", "Internal server error.").body(), status=500)


def json_400_handler(request, exception=None) -> JsonResponse:
    return JsonResponse(ErrorInfo(400, "VALIDATION_ERROR", "The request is invalid.").body(), status=400)


def json_403_handler(request, exception=None) -> JsonResponse:
    return error_response(PermissionDenied())
