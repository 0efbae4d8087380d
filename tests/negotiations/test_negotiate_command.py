"""`manage.py negotiate`: runs in the foreground and prints what the chosen viewer may see."""

import json
import re
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from negotiations.models import Negotiation
from negotiations.prices import format_price
from tests.support.llm_fixtures import fake_upstream  # noqa: F401 - fixture

pytestmark = pytest.mark.django_db(transaction=True)

ARGS = [
    "--title",
    "Road bike",
    "--list-price",
    "400",
    "--buyer-limit",
    "330",
    "--seller-limit",
    "300",
    "--mode",
    "rule",
    "--max-rounds",
    "4",
    "--seed",
    "3",
]


def run(*args: str) -> str:
    out = StringIO()
    call_command("negotiate", *args, stdout=out)
    return out.getvalue()


def test_prints_the_public_transcript_and_the_result():
    output = run(*ARGS)
    negotiation = Negotiation.objects.get()
    assert negotiation.status == "agreed"
    assert "status: running" in output and "outcome: agreed" in output
    assert f"Result: deal at {format_price(negotiation.agreed_price)}" in output
    assert "private" not in output and "330" not in output  # the buyer's limit was never offered


def test_as_buyer_shows_the_buyers_private_side_only():
    output = run(*ARGS, "--as", "buyer")
    assert "buyer's private limit: $330" in output
    assert "seller's private floor" not in output
    thoughts = [line for line in output.splitlines() if "private thought" in line]
    assert thoughts and all("] buyer" in line for line in thoughts)


def test_as_staff_shows_both_sides():
    output = run(*ARGS, "--as", "staff")
    assert "] seller (private thought)" in output and "] buyer  (private thought)" in output


def test_runs_a_scenario_from_a_craigslist_file(tmp_path):
    path = tmp_path / "scenarios.json"
    path.write_text(
        json.dumps(
            [
                {
                    "id": "1",
                    "title": "Desk",
                    "category": "furniture",
                    "description": "",
                    "listing_price": 60,
                    "buyer_target": 45,
                    "seller_target": 60,
                }
            ]
        )
    )
    output = run("--scenarios", str(path), "--scenario", "1", "--mode", "rule")
    negotiation = Negotiation.objects.get()
    assert negotiation.listing.title == "Desk"
    assert {p.role: str(p.limit_price) for p in negotiation.participants.all()} == {"buyer": "54.00", "seller": "42.00"}
    assert "Result:" in output


def test_bad_input_is_a_command_error_and_writes_nothing():
    with pytest.raises(CommandError, match="limit_price"):
        run("--list-price", "400", "--buyer-limit", "-3", "--seller-limit", "300", "--mode", "rule")
    assert not Negotiation.objects.exists()


def test_missing_limits_are_a_command_error():
    with pytest.raises(CommandError, match="--list-price"):
        run("--title", "x")


def test_live_prints_message_drafts_as_they_stream(fake_upstream):
    output = run(
        "--list-price",
        "400",
        "--buyer-limit",
        "330",
        "--seller-limit",
        "300",
        "--mode",
        "narrate",
        "--max-rounds",
        "1",
        "--live",
    )
    # The fake server's words: the live drafts (their last two words held back), each on its own line; it
    # names no price, so each draft is refused and the logged offer is a phrase naming its price.
    assert "\nHello wörld 世界 🙂 from the\nHello wörld 世界 🙂 from the\n" in output
    assert re.search(r"\nHello wörld 世界 🙂 from the\n\[ +\d+\] seller offer (\d+\.\d\d) .*\$\d", output)
    assert "Hello wörld 世界 🙂 from the fake server" not in output  # a refused draft never shows whole
