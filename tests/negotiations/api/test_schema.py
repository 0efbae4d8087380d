"""The OpenAPI schema documents every negotiations endpoint: bodies, paging parameters, errors in the
envelope, the token security schemes, and the stream as text/event-stream with its resume parameters."""

import pytest

OPERATIONS = {
    ("/api/v1/listings", "get"): "listings_list",
    ("/api/v1/listings", "post"): "listings_create",
    ("/api/v1/listings/{listing_id}", "get"): "listings_retrieve",
    ("/api/v1/negotiations", "post"): "negotiations_create",
    ("/api/v1/negotiations/{negotiation_id}", "get"): "negotiations_retrieve",
    ("/api/v1/negotiations/{negotiation_id}/start", "post"): "negotiations_start",
    ("/api/v1/negotiations/{negotiation_id}/cancel", "post"): "negotiations_cancel",
    ("/api/v1/negotiations/{negotiation_id}/events", "get"): "negotiations_events_list",
    ("/api/v1/negotiations/{negotiation_id}/stream", "get"): "negotiations_stream",
}
TOKEN_SECURITY = [{"negotiationToken": []}, {"negotiationTokenQuery": []}]


@pytest.mark.parametrize("path,method", OPERATIONS, ids=OPERATIONS.values())
def test_every_negotiations_endpoint_is_documented_with_its_errors_in_the_envelope(schema, path, method):
    operation = schema["paths"][path][method]
    assert operation["operationId"] == OPERATIONS[(path, method)]
    errors = [status for status in operation["responses"] if status.startswith("4")]
    assert errors
    for status in errors:
        assert operation["responses"][status]["content"]["application/json"]["schema"]["$ref"].endswith(
            "/ErrorResponse"
        )
    if "{negotiation_id}" in path:
        assert operation["security"][:2] == TOKEN_SECURITY and "401" in operation["responses"]
        assert {} not in operation["security"]  # no anonymous access to a negotiation


def test_creating_a_negotiation_documents_the_gateway_key_staff_and_open_access(schema):
    # open ({}) while no gateway keys are set; a gateway key or staff once they are
    operation = schema["paths"]["/api/v1/negotiations"]["post"]
    assert operation["security"] == [{"cookieAuth": []}, {"tokenAuth": []}, {"gatewayKey": []}, {}]
    assert "401" in operation["responses"]


def test_the_stream_is_documented_as_server_sent_events_with_its_resume_parameters(schema):
    operation = schema["paths"]["/api/v1/negotiations/{negotiation_id}/stream"]["get"]
    assert set(operation["responses"]["200"]["content"]) == {"text/event-stream"}
    example = next(iter(operation["responses"]["200"]["content"]["text/event-stream"]["examples"].values()))["value"]
    assert "id: 1\nevent: status" in example and "event: delta" in example and "event: end" in example
    parameters = {(p["in"], p["name"]) for p in operation["parameters"]}
    assert {("header", "Last-Event-ID"), ("query", "lastEventId"), ("query", "token")} <= parameters
    for words in ("retry:", ": ping", "Last-Event-ID", "400 VALIDATION_ERROR"):
        assert words in operation["description"]


def test_bodies_and_shapes_are_components(schema):
    components = schema["components"]
    create = components["schemas"]["NegotiationCreateRequest"]
    assert set(create["required"]) == {"listing", "buyer"}  # seller: default the listing's seller agent
    assert {"max_rounds", "opens", "seed", "start"} <= set(create["properties"])
    assert create["properties"]["max_rounds"]["maximum"] == 50
    created = components["schemas"]["NegotiationCreated"]
    assert "tokens" in created["properties"]
    assert set(components["schemas"]["NegotiationEvent"]["properties"]) == {
        "seq",
        "type",
        "actor",
        "visibility",
        "data",
        "created_at",
    }
    assert "private" not in components["schemas"]["Participant"].get("required", [])
    assert components["securitySchemes"]["negotiationToken"] == {
        "type": "http",
        "scheme": "bearer",
        "description": "A buyer, seller or observer token from `POST /api/v1/negotiations`.",
    }
    listing_page = schema["paths"]["/api/v1/listings"]["get"]["responses"]["200"]["content"]["application/json"][
        "schema"
    ]
    assert listing_page["$ref"].endswith("/PaginatedListingList")
