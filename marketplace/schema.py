"""WHAT: OpenAPI pieces shared by every app: the error envelope's schema and the error responses an
endpoint documents with it.
WHY: every error body is `{"error": {"code", "message", "details"?}}` (marketplace/api_errors.py); the
     schema should say so once, not describe each endpoint's errors as an anonymous object.
HOW: `error_responses(400, 404, ...)` gives `extend_schema(responses=...)` entries for those statuses.
"""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema_serializer
from rest_framework import serializers

__all__ = ["ErrorResponseSerializer", "error_responses"]


class _ErrorSerializer(serializers.Serializer):
    code = serializers.CharField(
        help_text="Machine-readable, e.g. VALIDATION_ERROR, LLM_TIMEOUT (docs/gateway.md, Error codes)."
    )
    message = serializers.CharField(help_text="Human-readable; safe to show.")
    details = serializers.DictField(required=False, help_text="Optional structured detail, e.g. `fields`.")


@extend_schema_serializer(component_name="ErrorResponse")
class ErrorResponseSerializer(serializers.Serializer):
    error = _ErrorSerializer()


def error_responses(*statuses: int) -> dict[int, OpenApiResponse]:
    return {status: OpenApiResponse(ErrorResponseSerializer, description="Error envelope.") for status in statuses}
