"""Who may see what, on every route: no token 401, a token that matches nothing 401, another negotiation's
token 404, an observer cannot act, staff (session or DRF token) see everything, a buyer token never
yields a seller-private field or event (detail, history at every `after`, stream live and resumed),
an invalid Last-Event-ID is a 400, and tokens are stored hashed and never shown again after creation."""

from __future__ import annotations

import hashlib
import json
import secrets

import pytest
from asgiref.sync import sync_to_async
from django.test import Client

from negotiations.log import event_append
from negotiations.models import Event, Listing, Negotiation, Participant
from tests.support.negotiation_api import PROPOSER, api_client, bearer, logged, staff_headers, visible_log, watch

pytestmark = pytest.mark.django_db(transaction=True)

SELLER_PERSONA = "quiet collector of rare oak furniture"  # private to the seller's side
SELLER_FLOOR = "353.33"
SIDES = {
    "buyer": {"limit_price": "447.77", "mode": "narrate"},
    "seller": {"limit_price": SELLER_FLOOR, "mode": "narrate", "persona": SELLER_PERSONA},
    "max_rounds": 10,  # the deal comes long before the seller would have to offer its floor
}
ROUTES = [
    ("GET", "/api/v1/negotiations/{id}"),
    ("GET", "/api/v1/negotiations/{id}/events"),
    ("GET", "/api/v1/negotiations/{id}/events?after=1"),
    ("GET", "/api/v1/negotiations/{id}/stream"),
    ("POST", "/api/v1/negotiations/{id}/start"),
    ("POST", "/api/v1/negotiations/{id}/cancel"),
]


async def finished(api, **overrides) -> dict:
    created = await api.negotiation(start=True, **{**SIDES, **overrides})
    async with watch(api.client, created["id"], bearer(created["tokens"]["observer"])) as reader:
        await reader.read_to_end()
    return created


async def log_size(negotiation_id: int) -> int:
    return await Event.objects.filter(negotiation_id=negotiation_id).acount()


@pytest.mark.parametrize("method,route", ROUTES)
async def test_no_token_or_a_token_matching_nothing_is_401_and_another_negotiations_token_is_404(server, method, route):
    async with api_client(server) as api:
        mine, other = await api.negotiation(), await api.negotiation()
        url = route.format(id=mine["id"])
        cases = [
            ({}, {}, 401),
            (bearer(secrets.token_urlsafe(32)), {}, 401),
            ({}, {"token": secrets.token_urlsafe(32)}, 401),
            ({"Authorization": "Basic dXNlcjpwdw=="}, {}, 401),
            (bearer("x" * 10_000), {}, 401),
            (bearer(other["tokens"]["buyer"]), {}, 404),
            ({}, {"token": other["tokens"]["observer"]}, 404),
        ]
        for headers, params, status in cases:
            response = await api.client.request(method, url, headers=headers, params=params)
            assert response.status_code == status, (headers, params, response.text)
            assert response.json()["error"]["code"] == ("NOT_AUTHENTICATED" if status == 401 else "NOT_FOUND")
            if status == 401:
                assert response.headers["WWW-Authenticate"] == "Bearer"
        # Anonymous callers cannot probe which ids exist; a participant elsewhere learns only "not here".
        missing = route.format(id=10**9)
        assert (await api.client.request(method, missing)).status_code == 401
        assert (await api.client.request(method, missing, headers=bearer(other["tokens"]["seller"]))).status_code == 404
        assert (
            await api.client.get(f"/api/v1/negotiations/{mine['id']}", headers=bearer(mine["tokens"]["buyer"]))
        ).json()["status"] == "pending"
        assert await log_size(mine["id"]) == 0, "nothing was started or cancelled"


async def test_a_buyer_token_never_yields_seller_private_data_by_any_route(server):
    async with api_client(server) as api:
        created = await finished(api)
        negotiation_id, buyer = created["id"], bearer(created["tokens"]["buyer"])
        seller_private = [e for e in await visible_log(negotiation_id, "staff") if e["visibility"] == "seller"]
        assert seller_private, "the seller had private thoughts to leak"
        secrets_of_seller = [SELLER_PERSONA, SELLER_FLOOR] + [
            e["data"]["reasoning"] for e in seller_private if "reasoning" in e["data"]
        ]
        public = json.dumps(await visible_log(negotiation_id, "observer"))
        assert not any(s in public for s in secrets_of_seller), "the secrets are not public by chance"

        bodies = []
        detail = (await api.client.get(f"/api/v1/negotiations/{negotiation_id}", headers=buyer)).json()
        assert [p.get("private") is not None for p in detail["participants"]] == [True, False]
        assert "seed" not in detail
        bodies.append(json.dumps(detail))
        expected = await visible_log(negotiation_id, "buyer")
        for after in range(0, expected[-1]["seq"] + 1):
            response = await api.client.get(
                f"/api/v1/negotiations/{negotiation_id}/events", params={"after": after, "limit": 500}, headers=buyer
            )
            assert response.json()["results"] == [e for e in expected if e["seq"] > after]
            bodies.append(response.text)
        for headers, params in [
            (buyer, {}),
            ({}, {"token": created["tokens"]["buyer"]}),
            ({**buyer, "Last-Event-ID": "2"}, {}),
            (buyer, {"lastEventId": "3"}),
        ]:
            async with watch(api.client, negotiation_id, headers, params) as reader:
                frames = await reader.read_to_end()
            assert {f.json()["visibility"] for f in logged(frames)} <= {"public", "buyer"}
            bodies.append(b"\n\n".join(f.raw for f in frames).decode())
        for body in bodies:
            assert '"visibility":"seller"' not in body.replace(" ", "") and '"visibility": "seller"' not in body
            assert not any(s in body for s in secrets_of_seller)


async def test_a_buyer_watching_live_never_receives_the_sellers_private_drafts_or_events(server):
    async with api_client(server) as api:
        created = await api.negotiation(
            buyer={"limit_price": "447.77", "mode": "rule"},
            seller={"limit_price": SELLER_FLOOR, "mode": "llm", "model": PROPOSER},
        )
        negotiation_id, tokens = created["id"], created["tokens"]
        async with (
            watch(api.client, negotiation_id, await staff_headers()) as staff_reader,
            watch(api.client, negotiation_id, bearer(tokens["buyer"])) as buyer_reader,
        ):
            await api.start(negotiation_id, tokens["buyer"])
            staff_frames, frames = await staff_reader.read_to_end(), await buyer_reader.read_to_end()
    private_drafts = [f for f in staff_frames if f.event == "delta" and f.json()["visibility"] == "seller"]
    assert private_drafts and any("<action>" in f.json()["text"] for f in private_drafts), "there was something to leak"
    assert [f.json() for f in logged(frames)] == await visible_log(negotiation_id, "buyer")
    assert not [f for f in frames if f.event == "delta" and f.json()["visibility"] != "public"]
    assert not [f for f in frames if f.data and "<action>" in f.data], "the seller's raw proposals stay with the seller"


@pytest.mark.parametrize("bad", ["abc", "-1", "1.5", "1e3", "12x", "+3", "0x10", "99999999999999999999", "١٢"])
async def test_an_invalid_last_event_id_is_a_400_validation_error_never_a_500(server, bad):
    async with api_client(server) as api:
        created = await api.negotiation()
        url, token = f"/api/v1/negotiations/{created['id']}/stream", created["tokens"]["observer"]
        for headers, params in [
            ({**bearer(token), "Last-Event-ID": bad.encode()}, {}),
            (bearer(token), {"lastEventId": bad}),
        ]:
            response = await api.client.get(url, headers=headers, params=params)
            assert response.status_code == 400, response.text
            assert response.json()["error"]["code"] == "VALIDATION_ERROR"
            assert "Last-Event-ID" in response.json()["error"]["details"]["fields"]


async def test_a_last_event_id_beyond_the_end_of_the_log_is_a_400(server):
    async with api_client(server) as api:
        created = await finished(api)
        last = (await visible_log(created["id"], "staff"))[-1]["seq"]
        url, headers = f"/api/v1/negotiations/{created['id']}/stream", bearer(created["tokens"]["buyer"])
        response = await api.client.get(url, headers={**headers, "Last-Event-ID": str(last + 1)})
        assert response.status_code == 400 and response.json()["error"]["code"] == "VALIDATION_ERROR"
        async with watch(api.client, created["id"], {**headers, "Last-Event-ID": str(last)}) as reader:
            assert [f.event for f in await reader.read_to_end()] == [None, "end"]


async def test_credentials_are_checked_before_the_query_so_no_token_is_a_401_whatever_else_is_wrong(server):
    async with api_client(server) as api:
        created = await api.negotiation()
        base = f"/api/v1/negotiations/{created['id']}"
        for url, headers in [
            (f"{base}/events?after=abc", {}),
            (f"{base}/events?limit=0", {}),
            (f"{base}/stream", {"Last-Event-ID": "abc"}),
            (f"{base}/stream?lastEventId=-1", {}),
            (f"{base}/stream", {"Last-Event-ID": "999999"}),
        ]:
            response = await api.client.get(url, headers=headers)
            assert response.status_code == 401, (url, response.text)
            assert response.json()["error"]["code"] == "NOT_AUTHENTICATED"


async def test_a_resume_point_beyond_the_log_is_a_400_on_the_history_and_the_stream_alike_and_names_no_seq(server):
    async with api_client(server) as api:
        created = await finished(api)
        last = (await visible_log(created["id"], "staff"))[-1]["seq"]
        base, headers = f"/api/v1/negotiations/{created['id']}", bearer(created["tokens"]["buyer"])
        history = await api.client.get(f"{base}/events", params={"after": last + 1}, headers=headers)
        stream = await api.client.get(f"{base}/stream", headers={**headers, "Last-Event-ID": str(last + 1)})
        for response, field in ((history, "after"), (stream, "Last-Event-ID")):
            assert response.status_code == 400 and response.json()["error"]["code"] == "VALIDATION_ERROR"
            assert field in response.json()["error"]["details"]["fields"]
            # The head of the log counts the seller's private events: it is in no message.
            assert str(last) not in response.text and str(last + 1) not in response.text
        at_the_end = await api.client.get(f"{base}/events", params={"after": last}, headers=headers)
        assert at_the_end.status_code == 200 and at_the_end.json() == {"next": None, "results": []}


async def test_tokens_are_stored_hashed_and_never_returned_after_creation(server):
    async with api_client(server) as api:
        created = await finished(api)
        negotiation_id, tokens = created["id"], created["tokens"]
        assert set(tokens) == {"buyer", "seller", "observer"} and len(set(tokens.values())) == 3

        def stored() -> tuple[dict, str]:
            hashes = dict(Participant.objects.filter(negotiation_id=negotiation_id).values_list("role", "token_hash"))
            hashes["observer"] = Negotiation.objects.get(pk=negotiation_id).observer_token_hash
            rows = [list(model.objects.values()) for model in (Listing, Negotiation, Participant, Event)]
            return hashes, json.dumps(rows, default=str)

        hashes, every_row = await sync_to_async(stored)()
        assert hashes == {role: hashlib.sha256(token.encode()).hexdigest() for role, token in tokens.items()}
        assert not any(token in every_row for token in tokens.values())

        staff = await staff_headers()
        responses = []
        for headers, params in [(bearer(tokens["buyer"]), {}), (staff, {}), ({}, {"token": tokens["seller"]})]:
            for path in ("", "/events?limit=2"):
                responses.append(
                    (
                        await api.client.get(
                            f"/api/v1/negotiations/{negotiation_id}{path}", headers=headers, params=params
                        )
                    ).text
                )
            async with watch(api.client, negotiation_id, headers, params) as reader:
                responses.append(b"".join(f.raw for f in await reader.read_to_end()).decode())
        responses.append((await api.client.get("/api/v1/listings")).text)
        for body in responses:
            assert not any(token in body for token in tokens.values())
            assert not any(digest in body for digest in hashes.values())


async def test_an_observer_may_watch_but_not_start_or_cancel(server):
    async with api_client(server) as api:
        created = await api.negotiation()
        negotiation_id, observer = created["id"], bearer(created["tokens"]["observer"])
        for action in ("start", "cancel"):
            response = await api.client.post(f"/api/v1/negotiations/{negotiation_id}/{action}", headers=observer)
            assert response.status_code == 403 and response.json()["error"]["code"] == "PERMISSION_DENIED"
        detail = (await api.client.get(f"/api/v1/negotiations/{negotiation_id}", headers=observer)).json()
        assert detail["status"] == "pending" and detail["viewer"] == "observer"
        assert all("private" not in p for p in detail["participants"])
        assert await log_size(negotiation_id) == 0


def test_staff_by_session_see_both_sides_and_every_event_and_other_users_need_a_token(runner):
    from django.contrib.auth import get_user_model

    from tests.support.negotiations import make_negotiation

    negotiation, _ = make_negotiation(seller={"persona": SELLER_PERSONA})
    event_append(negotiation=negotiation, type="thought", actor="seller", visibility="seller", data={"x": 1})
    users = get_user_model().objects
    staff, member = Client(), Client()
    staff.force_login(users.create_user("admin", password="pw-admin-123", is_staff=True))
    member.force_login(users.create_user("member", password="pw-member-123"))

    detail = staff.get(f"/api/v1/negotiations/{negotiation.pk}").json()
    assert detail["viewer"] == "staff" and "seed" in detail
    assert [p["private"]["persona"] for p in detail["participants"]][1] == SELLER_PERSONA
    events = staff.get(f"/api/v1/negotiations/{negotiation.pk}/events").json()["results"]
    assert [e["visibility"] for e in events] == ["public", "seller"]
    response = member.get(f"/api/v1/negotiations/{negotiation.pk}")
    assert response.status_code == 401 and response.json()["error"]["code"] == "NOT_AUTHENTICATED"
    # A session is ambient authority: a state change needs the CSRF token, like any Django form.
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(users.get(username="admin"))
    response = strict.post(f"/api/v1/negotiations/{negotiation.pk}/cancel")
    assert response.status_code == 403 and response.json()["error"]["code"] == "PERMISSION_DENIED"
    assert Negotiation.objects.get(pk=negotiation.pk).status == "running"


def test_a_wrong_drf_token_is_401_on_rest_and_stream(runner):
    from tests.support.negotiations import make_negotiation

    negotiation, _ = make_negotiation()
    for path in ("", "/events", "/stream"):
        response = Client().get(f"/api/v1/negotiations/{negotiation.pk}{path}", HTTP_AUTHORIZATION="Token not-a-key")
        assert response.status_code == 401, path
        assert response.json()["error"]["code"] == "NOT_AUTHENTICATED"
