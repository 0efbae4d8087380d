"""WHAT: the input building blocks of the negotiations API: strict JSON-typed fields (prices, integers,
     query integers), a serializer that refuses unknown fields, limit/offset pagination that refuses
     bad values, and the two helpers the views validate with (`validated`, `query_params`).
WHY: DRF's stock fields coerce ("12" is an integer, 12.0 too) and its pagination ignores a bad `limit`;
     the API documents JSON types and answers bad input with 400, so every view needs the strict kind.
HOW: plain DRF classes checking shapes and JSON types at the edge (the services check values too,
     negotiations/validation.py); a failure is DRF's ValidationError, 400 VALIDATION_ERROR through the
     one error mapping.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.request import Request

from negotiations.exceptions import PriceError
from negotiations.prices import parse_price
from negotiations.validation import DECIMAL_DIGITS, MAX_ID

__all__ = [
    "MAX_PAGE",
    "PriceField",
    "QueryIntegerField",
    "StrictIntegerField",
    "StrictLimitOffsetPagination",
    "StrictSerializer",
    "query_params",
    "validated",
]

MAX_PAGE = 200


@extend_schema_field(
    {"oneOf": [{"type": "string", "pattern": r"^\d+(\.\d{1,2})?$"}, {"type": "number"}], "example": "450.00"}
)
class PriceField(serializers.Field):
    """A positive price with at most two decimals, as a decimal string ("450.00") or a JSON number."""

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, bool) or not isinstance(data, (str, int, float)):
            raise serializers.ValidationError('Must be a decimal string such as "450.00" or a number.')
        try:
            return parse_price(data)
        except PriceError as exc:
            raise serializers.ValidationError(f"Must be a valid price: {exc}.") from None

    def to_representation(self, value: Any) -> Any:
        return value


class StrictIntegerField(serializers.IntegerField):
    """A JSON integer only (DRF's IntegerField also takes "12" and 12.0)."""

    def to_internal_value(self, data: Any) -> int:
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("invalid")
        return super().to_internal_value(data)


class QueryIntegerField(serializers.IntegerField):
    """A query-string integer: decimal digits only (no sign, spaces, exponent or fraction)."""

    def to_internal_value(self, data: Any) -> int:
        if not isinstance(data, str) or not DECIMAL_DIGITS.fullmatch(data):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictSerializer(serializers.Serializer):
    """Rejects fields it does not know, so a typo (`max_round`) is an error, not a silent default."""

    def to_internal_value(self, data: Any) -> Any:
        if not isinstance(data, dict):
            raise serializers.ValidationError({"non_field_errors": ["Must be a JSON object."]})
        unknown = sorted(set(data) - set(self.fields))
        if unknown:
            raise serializers.ValidationError({name: ["Unknown field."] for name in unknown})
        return super().to_internal_value(data)


def validated(serializer_class: type[serializers.Serializer], data: Any) -> dict[str, Any]:
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


def query_params(serializer_class: type[serializers.Serializer], request: Request) -> dict[str, Any]:
    """Query parameters the serializer knows (others, e.g. `token`, are not its business)."""
    fields = serializer_class().fields
    return validated(serializer_class, {k: v for k, v in request.query_params.items() if k in fields})


class StrictLimitOffsetPagination(LimitOffsetPagination):
    """DRF's limit/offset pagination, but a bad `limit`/`offset` is a 400 instead of being ignored."""

    default_limit = 50
    max_limit = MAX_PAGE

    class FilterSerializer(serializers.Serializer):
        limit = QueryIntegerField(required=False, min_value=1, max_value=MAX_PAGE)
        offset = QueryIntegerField(required=False, min_value=0, max_value=MAX_ID)

    def paginate_queryset(self, queryset: Any, request: Request, view: Any = None) -> list[Any]:
        params = query_params(self.FilterSerializer, request)
        self.request = request
        self.limit = params.get("limit", self.default_limit)
        self.offset = params.get("offset", 0)
        self.count = self.get_count(queryset)
        return list(queryset[self.offset : self.offset + self.limit]) if self.offset < self.count else []
