"""Services: validation that writes nothing on bad input, tokens shown once, state transitions."""

from decimal import Decimal

import pytest

from marketplace.errors import ConflictError, RequestValidationError
from negotiations.log import event_append
from negotiations.models import Event, Listing, Negotiation, Participant
from negotiations.services import (
    listing_create,
    negotiation_cancel,
    negotiation_create,
    negotiation_resume,
    negotiation_start,
)
from negotiations.tokens import token_hash
from tests.support.negotiations import make_listing, make_negotiation

pytestmark = pytest.mark.django_db


class RecordingRunner:
    def __init__(self):
        self.submitted, self.cancelled = [], []

    def submit(self, negotiation_id):
        self.submitted.append(negotiation_id)

    def cancel(self, negotiation_id):
        self.cancelled.append(negotiation_id)

    def is_active(self, negotiation_id):
        return negotiation_id in self.submitted


def counts():
    return (Listing.objects.count(), Negotiation.objects.count(), Participant.objects.count(), Event.objects.count())


@pytest.mark.parametrize(
    "overrides, field",
    [
        ({"list_price": "0"}, "list_price"),
        ({"list_price": "-5"}, "list_price"),
        ({"list_price": "ten"}, "list_price"),
        ({"list_price": "10.001"}, "list_price"),
        ({"list_price": None}, "list_price"),
        ({"title": "  "}, "title"),
        ({"title": "x" * 201}, "title"),
        ({"currency": "dollars"}, "currency"),
        ({"title": "Oak\x00table"}, "title"),
    ],
    ids=[
        "zero",
        "negative",
        "non-numeric",
        "three-decimals",
        "missing",
        "blank-title",
        "long-title",
        "bad-currency",
        "nul-in-title",
    ],
)
def test_listing_create_rejects_bad_input_and_writes_nothing(overrides, field):
    before = counts()
    with pytest.raises(RequestValidationError) as excinfo:
        make_listing(**overrides)
    assert excinfo.value.code == "VALIDATION_ERROR"
    assert field in excinfo.value.details["fields"]
    assert counts() == before


BAD_NEGOTIATIONS = [
    ({"buyer": {"limit_price": "0"}}, ("buyer", "limit_price")),
    ({"seller": {"limit_price": "-1"}}, ("seller", "limit_price")),
    ({"buyer": {"limit_price": "abc"}}, ("buyer", "limit_price")),
    ({"buyer": {"limit_price": "100.123"}}, ("buyer", "limit_price")),
    ({"buyer": {"limit_price": None}}, ("buyer", "limit_price")),
    ({"buyer": {"target_price": "0"}}, ("buyer", "target_price")),
    ({"buyer": {"target_price": "460"}}, ("buyer", "target_price")),  # above the buyer's limit
    ({"seller": {"target_price": "300"}}, ("seller", "target_price")),  # below the seller's floor
    ({"buyer": {"strategy": "tit-for-tat"}}, ("buyer", "strategy")),
    ({"seller": {"mode": "telepathy"}}, ("seller", "mode")),
    ({"buyer": {"provider": "no-such-provider"}}, ("buyer", "provider")),
    ({"seller": {"temperature": 3}}, ("seller", "temperature")),
    ({"seller": {"colour": "red"}}, ("seller", "colour")),
    ({"seller": {"persona": "gruff\x00"}}, ("seller", "persona")),
    ({"max_rounds": 0}, ("max_rounds",)),
    ({"max_rounds": 51}, ("max_rounds",)),
    ({"max_rounds": "5"}, ("max_rounds",)),
    ({"opens": "nobody"}, ("opens",)),
    ({"seed": -1}, ("seed",)),
]


@pytest.mark.parametrize(
    "overrides, path", BAD_NEGOTIATIONS, ids=["-".join(p) + f"-{i}" for i, (_, p) in enumerate(BAD_NEGOTIATIONS)]
)
def test_negotiation_create_rejects_bad_input_and_writes_nothing(overrides, path):
    listing = make_listing()
    before = counts()
    buyer = {"limit_price": "450.00", **overrides.pop("buyer", {})}
    seller = {"limit_price": "350.00", **overrides.pop("seller", {})}
    with pytest.raises(RequestValidationError) as excinfo:
        negotiation_create(listing=listing, buyer=buyer, seller=seller, **overrides)
    node = excinfo.value.details["fields"]
    for key in path:
        node = node[key]
    assert node  # a message for the offending field
    assert counts() == before


def test_negotiation_create_rejects_a_disabled_provider():
    with pytest.raises(RequestValidationError) as excinfo:
        negotiation_create(
            listing=make_listing(),
            buyer={"limit_price": "450", "provider": "openrouter"},
            seller={"limit_price": "350"},
        )
    assert "disabled" in excinfo.value.details["fields"]["buyer"]["provider"][0]


def test_negotiation_create_rejects_an_unknown_listing():
    with pytest.raises(RequestValidationError):
        negotiation_create(listing=999999, buyer={"limit_price": "450"}, seller={"limit_price": "350"})
    assert Negotiation.objects.count() == 0


def test_negotiation_create_returns_three_tokens_once_and_stores_only_digests():
    negotiation, tokens = negotiation_create(
        listing=make_listing(),
        buyer={"limit_price": "450", "target_price": "300"},
        seller={"limit_price": "350"},
        max_rounds=12,
        opens="buyer",
        seed=5,
    )
    assert set(tokens) == {"buyer", "seller", "observer"} and len(set(tokens.values())) == 3
    buyer = negotiation.participants.get(role="buyer")
    assert buyer.token_hash == token_hash(tokens["buyer"]) and tokens["buyer"] not in buyer.token_hash
    assert negotiation.observer_token_hash == token_hash(tokens["observer"])
    assert (negotiation.status, negotiation.max_rounds, negotiation.opens, negotiation.seed) == (
        "pending",
        12,
        "buyer",
        5,
    )
    assert buyer.limit_price == Decimal("450.00") and buyer.target_price == Decimal("300.00")
    assert (buyer.strategy, buyer.mode) == ("linear", "narrate")
    assert not Event.objects.filter(negotiation=negotiation).exists()


def test_negotiation_create_defaults_rounds_and_draws_a_seed(settings):
    negotiation, _ = negotiation_create(
        listing=make_listing().pk, buyer={"limit_price": 450}, seller={"limit_price": 350.5}
    )
    assert negotiation.max_rounds == settings.NEGOTIATION_DEFAULT_MAX_ROUNDS
    assert negotiation.seed >= 0


def test_start_logs_running_and_hands_the_negotiation_to_the_runner_after_commit(django_capture_on_commit_callbacks):
    negotiation, _ = make_negotiation(start=False)
    runner = RecordingRunner()
    with django_capture_on_commit_callbacks(execute=True):
        negotiation_start(negotiation=negotiation, runner=runner)
    assert negotiation.status == "running"
    assert runner.submitted == [negotiation.pk]
    assert [(e.type, e.data) for e in negotiation.events.all()] == [("status", {"status": "running"})]


def test_a_start_the_runner_cannot_take_is_committed_and_logged_not_raised(django_capture_on_commit_callbacks, caplog):
    # The in-process runner needs the ASGI server's loop; a WSGI or sync caller has none.
    class LooplessRunner(RecordingRunner):
        def submit(self, negotiation_id: int) -> None:
            raise RuntimeError("no event loop")

    negotiation, _ = make_negotiation(start=False)
    with django_capture_on_commit_callbacks(execute=True):
        negotiation_start(negotiation=negotiation, runner=LooplessRunner())
    negotiation.refresh_from_db()
    assert negotiation.status == "running"
    assert "started but not launched" in caplog.text


def test_starting_twice_is_a_conflict_and_logs_nothing_more():
    negotiation, _ = make_negotiation()
    with pytest.raises(ConflictError):
        negotiation_start(negotiation=negotiation, launch=False)
    assert negotiation.events.count() == 1


def test_cancel_logs_status_and_outcome_and_stops_the_runner_task(django_capture_on_commit_callbacks):
    negotiation, _ = make_negotiation()
    runner = RecordingRunner()
    with django_capture_on_commit_callbacks(execute=True):
        negotiation_cancel(negotiation=negotiation, runner=runner)
    negotiation.refresh_from_db()
    assert (negotiation.status, negotiation.end_reason) == ("cancelled", "cancelled")
    assert [e.type for e in negotiation.events.order_by("seq")] == ["status", "status", "outcome"]
    assert runner.cancelled == [negotiation.pk]


def test_a_pending_negotiation_can_be_cancelled():
    negotiation, _ = make_negotiation(start=False)
    negotiation_cancel(negotiation=negotiation, runner=RecordingRunner())
    assert negotiation.status == "cancelled"


def test_cancelling_twice_is_a_conflict():
    negotiation, _ = make_negotiation()
    negotiation_cancel(negotiation=negotiation, runner=RecordingRunner())
    with pytest.raises(ConflictError):
        negotiation_cancel(negotiation=negotiation, runner=RecordingRunner())
    assert negotiation.events.count() == 3


def test_starting_a_finished_negotiation_is_a_conflict():
    negotiation, _ = make_negotiation(start=False)
    negotiation_cancel(negotiation=negotiation, runner=RecordingRunner())
    with pytest.raises(ConflictError):
        negotiation_start(negotiation=negotiation, launch=False)


def test_resume_hands_a_running_negotiation_back_to_the_runner_and_refuses_others():
    negotiation, _ = make_negotiation()
    runner = RecordingRunner()
    negotiation_resume(negotiation=negotiation, runner=runner)
    assert runner.submitted == [negotiation.pk]
    negotiation_cancel(negotiation=negotiation, runner=runner)
    with pytest.raises(ConflictError):
        negotiation_resume(negotiation=negotiation, runner=runner)


def test_event_append_allocates_consecutive_seqs():
    negotiation, _ = make_negotiation()
    seqs = [
        event_append(negotiation=negotiation, type="status", actor="system", visibility="staff", data={}).seq
        for _ in range(3)
    ]
    assert seqs == [2, 3, 4]


def test_event_append_refuses_unknown_types():
    negotiation, _ = make_negotiation()
    with pytest.raises(RequestValidationError):
        event_append(negotiation=negotiation, type="gossip", actor="system", visibility="public", data={})
    assert negotiation.events.count() == 1


def test_listing_create_normalises_fields():
    listing = listing_create(title="  Desk ", list_price="60", currency="eur")
    assert (listing.title, listing.list_price, listing.currency) == ("Desk", Decimal("60.00"), "EUR")
