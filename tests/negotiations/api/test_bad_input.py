"""Bad input on every endpoint answers with the documented status and code, in the one error envelope,
and writes nothing (rows are counted before and after): missing fields, bad prices, unknown listings,
limits as strings, max_rounds 0 or 10^6, unknown fields, wrong JSON types, oversized bodies (413),
bad paging parameters, starting a negotiation that is not pending, cancelling twice."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from marketplace.errors import RequestValidationError
from negotiations.models import Event, Listing, Negotiation, Participant
from negotiations.services import negotiation_cancel, negotiation_create
from tests.support.negotiations import make_listing, make_negotiation

pytestmark = pytest.mark.django_db(transaction=True)

MODELS = (Listing, Negotiation, Participant, Event)


def counts() -> dict[str, int]:
    return {model.__name__: model.objects.count() for model in MODELS}


def post(client: Client, path: str, body: object = None, *, raw: bytes | None = None, **headers: str):
    data = raw if raw is not None else json.dumps(body).encode()
    return client.post(path, data=data, content_type="application/json", **headers)


def assert_error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"error"} and body["error"]["code"] == code and body["error"]["message"]
    return body["error"]


def valid_negotiation(listing_id: int) -> dict:
    return {"listing": listing_id, "buyer": {"limit_price": "450.00"}, "seller": {"limit_price": "350.00"}}


# --- POST /listings ----------------------------------------------------------------------------------
LISTING_CASES = {
    "missing title": ({"list_price": "10.00"}, "title"),
    "blank title": ({"title": "   ", "list_price": "10.00"}, "title"),
    "title too long": ({"title": "x" * 201, "list_price": "10.00"}, "title"),
    "title a number": ({"title": 42, "list_price": "10.00"}, "title"),
    "missing price": ({"title": "Lamp"}, "list_price"),
    "price as words": ({"title": "Lamp", "list_price": "ten dollars"}, "list_price"),
    "negative price": ({"title": "Lamp", "list_price": -5}, "list_price"),
    "zero price": ({"title": "Lamp", "list_price": "0"}, "list_price"),
    "three decimals": ({"title": "Lamp", "list_price": "1.234"}, "list_price"),
    "huge price": ({"title": "Lamp", "list_price": 10**12}, "list_price"),
    "price true": ({"title": "Lamp", "list_price": True}, "list_price"),
    "price null": ({"title": "Lamp", "list_price": None}, "list_price"),
    "price NaN": ({"title": "Lamp", "list_price": "NaN"}, "list_price"),
    "price with an exponent": ({"title": "Lamp", "list_price": "1e3"}, "list_price"),
    "price with three zero decimals": ({"title": "Lamp", "list_price": "450.000"}, "list_price"),
    "price with spaces": ({"title": "Lamp", "list_price": " 12 "}, "list_price"),
    "price in arabic-indic digits": ({"title": "Lamp", "list_price": "\u0661\u0662"}, "list_price"),
    "bad currency": ({"title": "Lamp", "list_price": "10", "currency": "US"}, "currency"),
    "unknown field": ({"title": "Lamp", "list_price": "10", "colour": "red"}, "colour"),
}


@pytest.mark.parametrize("body,field", LISTING_CASES.values(), ids=LISTING_CASES.keys())
def test_creating_a_listing_with_bad_fields_is_a_400_naming_the_field_and_writes_nothing(body, field):
    before = counts()
    error = assert_error(post(Client(), "/api/v1/listings", body), 400, "VALIDATION_ERROR")
    assert field in error["details"]["fields"]
    assert counts() == before


@pytest.mark.parametrize(
    "raw", [b"", b"not json", b"[1, 2]", b'"a string"', b"\xff\xfe"], ids=["empty", "text", "array", "string", "binary"]
)
def test_a_body_that_is_not_a_json_object_is_a_400(raw):
    before = counts()
    for path in ("/api/v1/listings", "/api/v1/negotiations"):
        assert_error(post(Client(), path, raw=raw), 400, "VALIDATION_ERROR")
    assert counts() == before


@pytest.mark.parametrize(
    "raw",
    [
        b'{"title": ' + b"[" * 50_000 + b"]" * 50_000 + b"}",
        b'{"listing": 1, "buyer": {"limit_price": ' + b'{"a":' * 20_000 + b"1" + b"}" * 20_000 + b"}}",
    ],
    ids=["nested arrays", "nested objects"],
)
def test_a_body_nested_too_deeply_to_parse_is_a_400_not_a_500(raw):
    before = counts()
    for path in ("/api/v1/listings", "/api/v1/negotiations"):
        assert_error(post(Client(raise_request_exception=False), path, raw=raw), 400, "VALIDATION_ERROR")
    assert counts() == before


def test_an_oversized_body_is_a_413_on_both_create_endpoints(settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 2048
    listing = make_listing()
    before = counts()
    big_listing = {"title": "Lamp", "list_price": "10", "description": "x" * 4000}
    big_negotiation = {**valid_negotiation(listing.pk), "buyer": {"limit_price": "450", "persona": "y" * 4000}}
    for path, body in (("/api/v1/listings", big_listing), ("/api/v1/negotiations", big_negotiation)):
        error = assert_error(post(Client(), path, body), 413, "VALIDATION_ERROR")
        assert "too large" in error["message"]
    assert counts() == before


# --- GET /listings, /listings/{id} -------------------------------------------------------------------
@pytest.mark.parametrize(
    "query", ["limit=abc", "limit=0", "limit=201", "limit=-1", "limit=1.5", "offset=-1", "offset=x"]
)
def test_bad_paging_of_listings_is_a_400(query):
    make_listing()
    error = assert_error(Client().get(f"/api/v1/listings?{query}"), 400, "VALIDATION_ERROR")
    assert query.split("=")[0] in error["details"]["fields"]


def test_listings_are_paginated_and_an_unknown_listing_is_a_404():
    ids = [make_listing(title=f"Item {i}").pk for i in range(5)]
    page = Client().get("/api/v1/listings?limit=2&offset=1").json()
    assert page["count"] == 5 and [item["id"] for item in page["results"]] == ids[::-1][1:3]
    assert "offset=3" in page["next"] and page["previous"]
    assert Client().get(f"/api/v1/listings/{ids[0]}").json()["title"] == "Item 0"
    for path in (f"/api/v1/listings/{max(ids) + 1}", "/api/v1/listings/99999999999999999999", "/api/v1/listings/abc"):
        assert_error(Client().get(path), 404, "NOT_FOUND")


# --- POST /negotiations ------------------------------------------------------------------------------
def negotiation_cases(listing_id: int) -> dict[str, tuple[dict, tuple[str, ...]]]:
    good = valid_negotiation(listing_id)
    return {
        "missing buyer": ({k: v for k, v in good.items() if k != "buyer"}, ("buyer",)),
        "missing seller limit": ({**good, "seller": {}}, ("seller", "limit_price")),
        "missing listing": ({k: v for k, v in good.items() if k != "listing"}, ("listing",)),
        "unknown listing": ({**good, "listing": listing_id + 1000}, ("listing",)),
        "listing as a string": ({**good, "listing": str(listing_id)}, ("listing",)),
        "limit as words": ({**good, "buyer": {"limit_price": "four hundred"}}, ("buyer", "limit_price")),
        "limit as an object": ({**good, "buyer": {"limit_price": {"amount": 400}}}, ("buyer", "limit_price")),
        "negative limit": ({**good, "seller": {"limit_price": "-350"}}, ("seller", "limit_price")),
        "buyer target above its limit": (
            {**good, "buyer": {"limit_price": "450", "target_price": "500"}},
            ("buyer", "target_price"),
        ),
        "max_rounds 0": ({**good, "max_rounds": 0}, ("max_rounds",)),
        "max_rounds 10^6": ({**good, "max_rounds": 10**6}, ("max_rounds",)),
        "max_rounds as a string": ({**good, "max_rounds": "5"}, ("max_rounds",)),
        "max_rounds true": ({**good, "max_rounds": True}, ("max_rounds",)),
        "opens neither side": ({**good, "opens": "both"}, ("opens",)),
        "negative seed": ({**good, "seed": -1}, ("seed",)),
        "start as a string": ({**good, "start": "yes"}, ("start",)),
        "unknown top-level field": ({**good, "max_round": 3}, ("max_round",)),
        "unknown participant field": (
            {**good, "buyer": {"limit_price": "450", "ceiling": "500"}},
            ("buyer", "ceiling"),
        ),
        "participant not an object": ({**good, "seller": "350"}, ("seller",)),
        "unknown strategy": ({**good, "buyer": {"limit_price": "450", "strategy": "greedy"}}, ("buyer", "strategy")),
        "unknown mode": ({**good, "buyer": {"limit_price": "450", "mode": "telepathy"}}, ("buyer", "mode")),
        "temperature 3": ({**good, "seller": {"limit_price": "350", "temperature": 3}}, ("seller", "temperature")),
        "unknown provider": ({**good, "seller": {"limit_price": "350", "provider": "nope"}}, ("seller", "provider")),
        "persona too long": ({**good, "buyer": {"limit_price": "450", "persona": "p" * 501}}, ("buyer", "persona")),
    }


def test_creating_a_negotiation_with_bad_input_is_a_400_naming_the_field_and_writes_nothing(runner):
    listing = make_listing()
    for name, (body, path) in negotiation_cases(listing.pk).items():
        for start in (True, False):
            before = counts()
            error = assert_error(
                post(Client(), "/api/v1/negotiations", {**body, "start": start} if "start" not in body else body),
                400,
                "VALIDATION_ERROR",
            )
            node = error["details"]["fields"]
            for key in path:
                assert key in node, (name, error)
                node = node[key]
            assert counts() == before, name
    assert not runner.active_ids()


def test_a_valid_negotiation_is_created_and_started_by_default(runner):
    listing = make_listing()
    response = post(
        Client(),
        "/api/v1/negotiations",
        valid_negotiation(listing.pk)
        | {"buyer": {"limit_price": "450", "mode": "rule"}, "seller": {"limit_price": "350", "mode": "rule"}},
    )
    # The sync test client has no event loop for the runner: the start is logged, the launch is the runner's.
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["status"] == "running" and response["Location"] == f"/api/v1/negotiations/{body['id']}"
    assert Event.objects.filter(negotiation_id=body["id"]).count() == 1
    assert set(body["tokens"]) == {"buyer", "seller", "observer"}, "the tokens are never lost to a launch failure"
    assert not runner.is_active(body["id"])  # resumed by the next ASGI request's orphan sweep


# --- start / cancel / events -------------------------------------------------------------------------
def test_starting_a_negotiation_that_is_not_pending_is_a_409_and_writes_nothing(runner):
    running, tokens = make_negotiation()  # already started
    finished, finished_tokens = make_negotiation()
    negotiation_cancel(negotiation=finished)
    for negotiation, token in ((running, tokens["buyer"]), (finished, finished_tokens["seller"])):
        before = counts()
        error = assert_error(
            post(Client(), f"/api/v1/negotiations/{negotiation.pk}/start", HTTP_AUTHORIZATION=f"Bearer {token}"),
            409,
            "CONFLICT",
        )
        assert error["details"]["status"] in {"running", "cancelled"}
        assert counts() == before


def test_cancelling_twice_is_a_409_the_second_time_and_writes_nothing(runner):
    negotiation, tokens = make_negotiation()
    url, auth = f"/api/v1/negotiations/{negotiation.pk}/cancel", f"Bearer {tokens['seller']}"
    first = post(Client(), url, HTTP_AUTHORIZATION=auth)
    assert first.status_code == 200 and first.json()["status"] == "cancelled"
    before = counts()
    error = assert_error(post(Client(), url, HTTP_AUTHORIZATION=auth), 409, "CONFLICT")
    assert error["details"] == {"status": "cancelled"}
    assert counts() == before
    assert [e.type for e in Event.objects.filter(negotiation=negotiation).order_by("seq")] == [
        "status",
        "status",
        "outcome",
    ]


@pytest.mark.parametrize(
    "query",
    ["after=abc", "after=-1", "after=1.5", "after=99999999999999999999", "limit=0", "limit=501", "limit=ten", "limit="],
)
def test_bad_paging_of_the_history_is_a_400(query, runner):
    negotiation, tokens = make_negotiation()
    response = Client().get(
        f"/api/v1/negotiations/{negotiation.pk}/events?{query}", HTTP_AUTHORIZATION=f"Bearer {tokens['buyer']}"
    )
    error = assert_error(response, 400, "VALIDATION_ERROR")
    assert query.split("=")[0] in error["details"]["fields"]


def test_methods_an_endpoint_does_not_have_are_a_405():
    assert_error(Client().delete("/api/v1/listings"), 405, "METHOD_NOT_ALLOWED")
    assert_error(Client().get("/api/v1/negotiations"), 405, "METHOD_NOT_ALLOWED")
    assert_error(Client().post("/api/v1/negotiations/1/stream"), 405, "METHOD_NOT_ALLOWED")


def test_a_negotiation_id_that_is_not_a_number_or_too_large_is_a_404_with_a_valid_token(runner):
    negotiation, tokens = make_negotiation()
    auth = {"HTTP_AUTHORIZATION": f"Bearer {tokens['buyer']}"}
    for path in (
        "/api/v1/negotiations/abc",
        "/api/v1/negotiations/-1/events",
        "/api/v1/negotiations/1.5/stream",
        "/api/v1/negotiations/99999999999999999999",
        "/api/v1/negotiations/99999999999999999999/stream",
    ):
        assert_error(Client().get(path, **auth), 404, "NOT_FOUND")
    before = counts()
    assert_error(
        post(
            Client(), "/api/v1/negotiations/99999999999999999999/cancel", HTTP_AUTHORIZATION=auth["HTTP_AUTHORIZATION"]
        ),
        404,
        "NOT_FOUND",
    )
    assert counts() == before


SAME_MESSAGE_CASES = {
    "unknown strategy": {"strategy": "titfortat"},
    "unknown mode": {"mode": "telepathy"},
    "persona too long": {"persona": "x" * 501},
    "model too long": {"model": "m" * 201},
    "temperature out of range": {"temperature": 3},
    "temperature not a number": {"temperature": "hot"},
}


@pytest.mark.parametrize("bad", SAME_MESSAGE_CASES.values(), ids=SAME_MESSAGE_CASES.keys())
def test_a_bad_participant_field_reads_the_same_from_the_api_and_from_the_services(bad):
    listing = make_listing()
    body = valid_negotiation(listing.pk)
    body["seller"].update(bad)
    error = assert_error(post(Client(), "/api/v1/negotiations", body), 400, "VALIDATION_ERROR")
    (field,) = bad
    with pytest.raises(RequestValidationError) as caught:
        negotiation_create(listing=listing, buyer=body["buyer"], seller=body["seller"])
    assert error["details"]["fields"]["seller"][field] == caught.value.details["fields"]["seller"][field]


def test_starting_beyond_the_servers_capacity_is_a_429_with_retry_after_and_writes_nothing(runner, settings):
    settings.NEGOTIATION_MAX_ACTIVE = 1
    assert runner.reserve(10**9)  # the one place is taken
    listing = make_listing()
    pending, tokens = make_negotiation(start=False)
    before = counts()
    for response in (
        post(Client(), "/api/v1/negotiations", valid_negotiation(listing.pk)),  # create and start
        post(Client(), f"/api/v1/negotiations/{pending.pk}/start", HTTP_AUTHORIZATION=f"Bearer {tokens['buyer']}"),
    ):
        error = assert_error(response, 429, "NEGOTIATION_CAPACITY")
        assert response["Retry-After"] == "10" and error["details"] == {"max_active": 1}
    assert counts() == before
    pending.refresh_from_db()
    assert pending.status == "pending"
    # Creating without starting is not limited.
    assert post(Client(), "/api/v1/negotiations", valid_negotiation(listing.pk) | {"start": False}).status_code == 201
    runner.release(10**9)
