"""WHAT: how the OpenAPI schema describes negotiation tokens: a bearer token in the Authorization
     header, or the same token as the `token` query parameter (either one).
WHY: drf-spectacular documents authentication from the views' authentication classes; ours reads two
     places, which a stock extension cannot say.
HOW: an `OpenApiAuthenticationExtension` for `NegotiationTokenAuthentication`, imported by
     negotiations/api/views.py so it registers before the schema is generated.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class NegotiationTokenScheme(OpenApiAuthenticationExtension):
    target_class = "negotiations.api.access.NegotiationTokenAuthentication"
    name = ["negotiationToken", "negotiationTokenQuery"]

    def get_security_requirement(self, auto_schema: Any) -> list[dict[str, list[Any]]]:
        return [{"negotiationToken": []}, {"negotiationTokenQuery": []}]  # either one

    def get_security_definition(self, auto_schema: Any) -> list[dict[str, Any]]:
        return [
            {
                "type": "http",
                "scheme": "bearer",
                "description": "A buyer, seller or observer token from `POST /api/v1/negotiations`.",
            },
            {
                "type": "apiKey",
                "in": "query",
                "name": "token",
                "description": "The same token as a query parameter (for EventSource, which cannot set headers).",
            },
        ]
