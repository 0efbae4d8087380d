"""WHAT: the gateway API keys (LLM_GATEWAY_API_KEYS): `GatewayKeyAuthentication` and the checks every app
     uses — the LLM endpoints, the status endpoint, and the creation of negotiations and mandates.
WHY: with a paid provider key configured (OpenRouter), an open gateway lets anyone who reaches the server
     spend that key, and the status endpoint shows internal base URLs and model lists. Local development
     needs no key, so the check is off until the operator sets LLM_GATEWAY_API_KEYS (docs/gateway.md).
HOW: a request must send `Authorization: Bearer <one of the keys>`, else 401 NOT_AUTHENTICATED. Keys are
     compared as SHA-256 digests with `hmac.compare_digest`, never logged or echoed. A DRF authenticator
     (so the OpenAPI schema documents it) that does no I/O, so `AsyncApiView` may run it on the event loop.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

from django.conf import settings
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework.authentication import BaseAuthentication

from marketplace.errors import NotAuthenticatedError

__all__ = ["GatewayKeyAuthentication", "gateway_keys", "require_gateway_key"]

MISSING_KEY = "This endpoint needs one of the gateway's API keys: send `Authorization: Bearer <key>`."
INVALID_KEY = "The API key is not valid for this gateway."


def gateway_keys() -> list[str]:
    """The configured gateway keys (settings.LLM_GATEWAY_API_KEYS), blanks dropped."""
    return [key.strip() for key in getattr(settings, "LLM_GATEWAY_API_KEYS", ()) if key and key.strip()]


def _digest(value: str) -> bytes:
    return hashlib.sha256(value.encode("utf-8", "surrogateescape")).digest()


def key_matches(candidate: str, keys: list[str]) -> bool:
    """Whether `candidate` is one of `keys`; compares against every key in constant time."""
    digest = _digest(candidate)
    matched = False
    for key in keys:
        matched |= hmac.compare_digest(digest, _digest(key))
    return matched


def require_gateway_key(request: Any, keys: list[str]) -> None:
    """Raise 401 NOT_AUTHENTICATED unless the request sends `Authorization: Bearer <one of keys>`."""
    scheme, _, credentials = str(request.META.get("HTTP_AUTHORIZATION", "")).strip().partition(" ")
    credentials = credentials.strip()
    if scheme.lower() != "bearer" or not credentials:
        raise NotAuthenticatedError(MISSING_KEY)
    if not key_matches(credentials, keys):
        raise NotAuthenticatedError(INVALID_KEY)


class GatewayKeyAuthentication(BaseAuthentication):
    """Requires a gateway API key when settings.LLM_GATEWAY_API_KEYS is set; identifies no user."""

    def authenticate(self, request: Any) -> tuple[None, str] | None:
        keys = gateway_keys()
        if not keys:
            return None  # open gateway (the development default)
        require_gateway_key(request, keys)
        return None, "gateway-key"

    def authenticate_header(self, request: Any) -> str:
        return "Bearer"


class GatewayKeyScheme(OpenApiAuthenticationExtension):
    target_class = GatewayKeyAuthentication
    name = "gatewayKey"

    def get_security_requirement(self, auto_schema: Any) -> list[dict[str, list[Any]]]:
        return [{"gatewayKey": []}, {}]  # {}: no key needed while LLM_GATEWAY_API_KEYS is empty

    def get_security_definition(self, auto_schema: Any) -> dict[str, Any]:
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "One of the gateway's API keys (LLM_GATEWAY_API_KEYS), e.g. the OpenAI SDK's `api_key`. "
            "Required only when the server sets keys.",
        }
