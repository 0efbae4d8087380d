"""WHAT: strict JSON input for every API: `read_json_object(request)` and DRF fields that take only the
     JSON type they name (`StrictNumberField`, `StrictBooleanField`, `StrictCharField`).
WHY: DRF's own fields coerce ("1" becomes 1, 1 becomes "1", "yes" becomes True), so a client's type
     mistake would silently pass; OpenAI's API and ours answer it with 400 VALIDATION_ERROR instead.
HOW: each field checks the Python type json.loads produced before DRF's own conversion; the body reader
     enforces DATA_UPLOAD_MAX_MEMORY_SIZE (413) and a JSON object at the top (400).
"""

from __future__ import annotations

import json
import math
from typing import Any

from django.conf import settings
from django.http import HttpRequest
from rest_framework import serializers

from marketplace.errors import PayloadTooLargeError, RequestValidationError

__all__ = ["StrictBooleanField", "StrictCharField", "StrictNumberField", "read_json_object"]


def read_json_object(request: HttpRequest) -> dict[str, Any]:
    """The request body as a JSON object; 413 when above DATA_UPLOAD_MAX_MEMORY_SIZE, else 400 if not JSON."""
    body = request.body  # Django raises RequestDataTooBig (-> 413) when Content-Length is over the limit
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    if limit is not None and len(body) > limit:  # a chunked body has no Content-Length to check
        raise PayloadTooLargeError(details={"max_bytes": limit})
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise RequestValidationError("The request body is not valid JSON.") from exc
    except RecursionError:  # nested deeper than the parser's stack allows: bad input, not a 500
        raise RequestValidationError("The request body is nested too deeply.") from None
    if not isinstance(payload, dict):
        raise RequestValidationError("The request body must be a JSON object.")
    return payload


class StrictNumberField(serializers.FloatField):
    """A JSON number (int or float, never a bool or a numeric string) within [min_value, max_value]."""

    default_error_messages = {
        "invalid": "A number is required.",
        "range": "Must be between {min_value} and {max_value}.",
    }

    def __init__(self, *, min_value: float, max_value: float, **kwargs: Any) -> None:
        super().__init__(min_value=min_value, max_value=max_value, **kwargs)
        self.validators = []  # the range is checked (with one message) in to_internal_value

    def to_internal_value(self, data: Any) -> float | int:
        if isinstance(data, bool) or not isinstance(data, (int, float)) or not math.isfinite(data):
            self.fail("invalid")
        if not self.min_value <= data <= self.max_value:
            self.fail("range", min_value=self.min_value, max_value=self.max_value)
        return data

    def to_representation(self, value: Any) -> Any:
        return value


class StrictBooleanField(serializers.BooleanField):
    """A JSON boolean only (DRF's BooleanField also takes "yes", 1, "on"...)."""

    def to_internal_value(self, data: Any) -> bool:
        if not isinstance(data, bool):
            self.fail("invalid", input=data)
        return data


class StrictCharField(serializers.CharField):
    """A JSON string only (DRF's CharField turns numbers into strings)."""

    default_error_messages = {"invalid": "A string is required."}

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)
