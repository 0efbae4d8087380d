"""WHAT: the root of every error the API reports on purpose: `ApplicationError` and its subclasses for bad
      input (400, 413), missing credentials (401), refusal (403), absence (404) and conflicts (409);
      llm.exceptions.LLMError is a branch with its own tree. docs/gateway.md lists every code.
WHY: the HTTP status and the machine-readable code live on the class, so one mapping
     (marketplace/api_errors.py) serves DRF views, plain async views and SSE streams alike.
HOW: raise a subclass with a human message and optional `details`; never put secrets in either.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "ApplicationError",
    "ConflictError",
    "NotAuthenticatedError",
    "NotFoundError",
    "PayloadTooLargeError",
    "PermissionDeniedError",
    "RequestValidationError",
]


class ApplicationError(Exception):
    """Base of the errors we raise on purpose; each subclass names its code and HTTP status."""

    code: str = "INTERNAL_ERROR"
    http_status: int = 500
    default_message: str = "Internal server error."

    def __init__(self, message: str | None = None, *, details: dict[str, Any] | None = None) -> None:
        self.message = message or self.default_message
        self.details = details or {}
        super().__init__(self.message)


class RequestValidationError(ApplicationError):
    """The request is malformed or breaks a documented limit; nothing was done."""

    code = "VALIDATION_ERROR"
    http_status = 400
    default_message = "The request is invalid."


class PayloadTooLargeError(RequestValidationError):
    """The request body is larger than the configured maximum."""

    http_status = 413
    default_message = "The request body is too large."


class NotAuthenticatedError(ApplicationError):
    """No credentials, or credentials that match nothing."""

    code = "NOT_AUTHENTICATED"
    http_status = 401
    default_message = "Authentication credentials were not provided or are invalid."
    response_headers = {"WWW-Authenticate": "Bearer"}  # HTTP requires it on every 401


class PermissionDeniedError(ApplicationError):
    """The caller is known but may not do this."""

    code = "PERMISSION_DENIED"
    http_status = 403
    default_message = "You do not have permission to perform this action."


class NotFoundError(ApplicationError):
    """The resource does not exist, or the caller may not know that it does."""

    code = "NOT_FOUND"
    http_status = 404
    default_message = "Not found."


class ConflictError(ApplicationError):
    """The request is valid but clashes with the resource's current state."""

    code = "CONFLICT"
    http_status = 409
    default_message = "The request conflicts with the current state of the resource."
