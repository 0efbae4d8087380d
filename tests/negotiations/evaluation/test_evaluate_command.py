"""`manage.py evaluate`: the report's numbers against a hand computation (fake LLM), determinism in rule
mode for a fixed seed, where the negotiations live, and clear errors for bad arguments."""

from __future__ import annotations

import json
import re
from decimal import Decimal
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from negotiations.agents.strategy import ConcessionStrategy
from negotiations.evaluation.report import without_timing
from negotiations.evaluation.runner import scenario_seed
from negotiations.evaluation.scenarios import Scenario, scenario_limits
from negotiations.management.commands.evaluate import Command as EvaluateCommand
from negotiations.models import Negotiation
from negotiations.prices import format_price
from tests.support.fake_provider import Crash, FakeProvider, prompt_of
from tests.support.negotiations import NARRATE_RETRY, narrated_move

pytestmark = pytest.mark.django_db(transaction=True)

DATA = Path(__file__).resolve().parents[3] / "data" / "craigslist_scenarios.json"

# Five scenarios chosen so that, with 2 rounds and the seller opening, every move can be worked out by
# hand (see test_report_numbers_match_a_hand_computation).
FIVE = [
    {
        "id": "a",
        "title": "Armchair",
        "category": "furniture",
        "description": "",
        "listing_price": 100,
        "buyer_target": 80,
        "seller_target": 100,
    },
    {
        "id": "b",
        "title": "Bicycle",
        "category": "bike",
        "description": "",
        "listing_price": 200,
        "buyer_target": 120,
        "seller_target": 200,
    },
    {
        "id": "c",
        "title": "Camping tent",
        "category": "sports",
        "description": "",
        "listing_price": 50,
        "buyer_target": 25,
        "seller_target": 50,
    },
    {
        "id": "d",
        "title": "Dining set",
        "category": "furniture",
        "description": "",
        "listing_price": 1000,
        "buyer_target": 650,
        "seller_target": 1000,
    },
    {
        "id": "e",
        "title": "Desk",
        "category": "furniture",
        "description": "",
        "listing_price": 60,
        "buyer_target": 45,
        "seller_target": 60,
    },
]


def write_scenarios(tmp_path: Path, scenarios: list[dict] | str, name: str = "scenarios.json") -> str:
    path = tmp_path / name
    path.write_text(scenarios if isinstance(scenarios, str) else json.dumps(scenarios), encoding="utf-8")
    return str(path)


def evaluate(*args: str, provider: FakeProvider | None = None) -> tuple[str, str]:
    command = EvaluateCommand()
    if provider is not None:
        command.provider_resolver = provider.resolve
    out, err = StringIO(), StringIO()
    call_command(command, *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def strategies(scenario_id: str, seed: int = 11, max_rounds: int = 2) -> tuple[ConcessionStrategy, ConcessionStrategy]:
    """The (buyer, seller) strategies `evaluate` gives one of FIVE (linear, the scenario's limits and seed)."""
    raw = next(s for s in FIVE if s["id"] == scenario_id)
    scenario = Scenario(
        raw["id"],
        raw["title"],
        raw["category"],
        raw["description"],
        Decimal(raw["listing_price"]),
        Decimal(raw["buyer_target"]),
        Decimal(raw["seller_target"]),
    )
    limits, seed = scenario_limits(scenario), scenario_seed(seed, scenario)

    def side(role: str, limit: Decimal, target: Decimal) -> ConcessionStrategy:
        return ConcessionStrategy(
            role=role,
            limit=limit,
            target=target,
            tactic="linear",
            list_price=scenario.listing_price,
            max_rounds=max_rounds,
            seed=seed,
        )

    return side("buyer", limits.buyer_ceiling, limits.buyer_target), side(
        "seller", limits.seller_floor, limits.seller_target
    )


def scripted_llm() -> FakeProvider:
    """Voices each move in words that pass every check, except: the Dining-set buyer's first draft names
    its ceiling ($780), the Armchair buyer's first draft says "Deal!" while countering, and the
    Camping-tent seller's second turn (its last offer) fails. Regenerations get the good words."""
    dining_opening = format_price(strategies("d")[0].opening)
    armchair_opening = format_price(strategies("a")[0].opening)
    tent_last_offer = format_price(strategies("c")[1].last_offer)

    def respond(request):
        prompt, move = prompt_of(request), narrated_move(request)
        buyer = "buying" in prompt
        if NARRATE_RETRY not in prompt:
            if "Dining set" in prompt and buyer and move == ("offer", dining_opening):
                return "I can go as high as $780."
            if "Armchair" in prompt and buyer and move == ("offer", armchair_opening):
                return "Deal! Let me pay that."
            if "Camping tent" in prompt and not buyer and move == ("offer", tent_last_offer):
                return RuntimeError("the model server fell over")
        if move and move[0] == "offer":
            return f"I can do {move[1]}."
        if move and move[0] == "accept":
            return f"Deal at {move[1]}, thanks."
        return "Sorry, we are too far apart. I'll pass."

    return FakeProvider(respond=respond)


def test_report_numbers_match_a_hand_computation(tmp_path):
    out_path = tmp_path / "report.json"
    stdout, stderr = evaluate(
        "--scenarios",
        write_scenarios(tmp_path, FIVE),
        "--mode",
        "narrate",
        "--max-rounds",
        "2",
        "--seed",
        "11",
        "--concurrency",
        "2",
        "--out",
        str(out_path),
        provider=scripted_llm(),
    )
    report = json.loads(out_path.read_text())

    # Hand computation. P = listing price, B = buyer target; floor = 0.70 P, ceiling = min(P, 1.2 B).
    # With 2 rounds each side has two turns. The seller's target is P, public, so it opens at P; the
    # buyer opens a seeded 1-5 % below B, rounded down to its step (its opening, O). On its own last
    # turn a side accepts anything within its limit, or else makes its last offer: a seeded 0.2-0.6 %
    # of its limit beyond it, rounded (the seller's: L):
    #   turn 1 seller offers P; turn 2 buyer offers O (P is above it);
    #   turn 3 seller's last turn: accepts O if O >= floor, else offers L;
    #   turn 4 (the last) buyer: accepts L if L <= ceiling, else walks away.
    #   a  P=100  B=80   floor 70   ceiling 96   O >= floor: deal at O on turn 3 (3 messages)
    #   b  P=200  B=120  floor 140  ceiling 144  O < floor, L <= ceiling: deal at L on turn 4 (4 messages)
    #   c  P=50   B=25   floor 35   ceiling 30   no zone of agreement: walks away on turn 4 (4 messages)
    #   d  P=1000 B=650  floor 700  ceiling 780  O < floor: deal at L on turn 4 (4 messages)
    #   e  P=60   B=45   floor 42   ceiling 54   O >= floor: deal at O on turn 3 (3 messages)
    opening = {k: strategies(k)[0].opening for k in "abcde"}
    last = {k: strategies(k)[1].last_offer for k in "abcde"}
    assert opening["a"] >= 70 and opening["e"] >= 42, "with this seed the seller takes a's and e's opening"
    assert opening["b"] < 140 and last["b"] <= 144 and opening["d"] < 700, "and b and d end at the seller's last offer"
    assert (last["b"], last["d"]) == (Decimal("141.00"), Decimal("705.00")), "within 1 % of the floor, rounded"
    deal = {"a": opening["a"], "b": last["b"], "d": last["d"], "e": opening["e"]}
    by_id = {n["scenario_id"]: n for n in report["arms"][0]["negotiations"]}
    assert {k: (n["status"], n["agreed_price"], n["messages"], n["rounds"]) for k, n in by_id.items()} == {
        "a": ("agreed", f"{deal['a']:.2f}", 3, 2),
        "b": ("agreed", f"{deal['b']:.2f}", 4, 2),
        "c": ("no_deal", None, 4, 2),
        "d": ("agreed", f"{deal['d']:.2f}", 4, 2),
        "e": ("agreed", f"{deal['e']:.2f}", 3, 2),
    }
    assert {k: (n["seller_floor"], n["buyer_ceiling"], n["zone_of_agreement"]) for k, n in by_id.items()} == {
        "a": ("70.00", "96.00", True),
        "b": ("140.00", "144.00", True),
        "c": ("35.00", "30.00", False),
        "d": ("700.00", "780.00", True),
        "e": ("42.00", "54.00", True),
    }
    # Position (price - B) / (P - B); buyer's surplus share (ceiling - price) / (ceiling - floor).
    facts = {"a": (100, 80, 70, 96), "b": (200, 120, 140, 144), "d": (1000, 650, 700, 780), "e": (60, 45, 42, 54)}
    position = {k: float((deal[k] - b) / (p - b)) for k, (p, b, _, _) in facts.items()}
    share = {k: float((c - deal[k]) / (c - f)) for k, (_, _, f, c) in facts.items()}
    assert {k: (n["position"], n["buyer_share"]) for k, n in by_id.items()} == {
        **{k: (round(position[k], 4), round(share[k], 4)) for k in facts},
        "c": (None, None),
    }
    m = report["arms"][0]["metrics"]
    assert (m["negotiations"], m["with_zone_of_agreement"], m["deals"], m["deals_with_zone"]) == (5, 4, 4, 4)
    assert (m["deal_rate"], m["deal_rate_with_zone"], m["deals_without_zone"]) == (0.8, 1.0, 0)
    assert (m["deals_outside_limits"], m["leaks"], m["leak_details"]) == (0, 0, [])
    assert m["status"] == {"agreed": 4, "no_deal": 1}
    assert m["end_reasons"] == {"accepted": 4, "walk_away": 1}
    # Rounds 2,2,2,2,2; messages 3,4,4,4,3 (deals: 3,4,4,3).
    assert (m["median_rounds"], m["median_messages"], m["median_messages_of_deals"]) == (2, 4, 3.5)
    positions, shares = sorted(position.values()), sorted(share.values())
    assert m["deal_position"] == {
        "median": round((positions[1] + positions[2]) / 2, 4),
        "mean": round(sum(positions) / 4, 4),
        "deals": 4,
    }
    buyer_mean = sum(shares) / 4
    assert m["surplus_share"] == {
        "buyer_mean": round(buyer_mean, 4),
        "seller_mean": round(1 - buyer_mean, 4),
        "buyer_median": round((shares[1] + shares[2]) / 2, 4),
        "deals": 4,
    }
    # Guardrails: d's buyer named its ceiling (regenerated), a's buyer said "Deal!" while countering
    # (regenerated), c's seller lost its LLM call (a phrase of the bank).
    assert m["guardrails"] == {"contradicting_text": 1, "llm_unavailable": 1, "private_price_in_text": 1}
    assert m["guardrails_total"] == 3
    # 18 turns, one narrate call each, plus two regenerations = 20 calls; one failed. The fake reports
    # 1 prompt + 1 completion token for each of the 19 calls that finished.
    assert m["turns"] == 18
    assert m["llm"] == {
        "calls": 20,
        "failures": 1,
        "unavailable_events": 1,
        "prompt_tokens": 19,
        "completion_tokens": 19,
        "completion_tokens_estimated": False,
        "calls_per_turn": round(20 / 18, 4),
    }
    assert by_id["d"]["llm"] == {
        "calls": 5,
        "failures": 0,
        "prompt_tokens": 5,
        "completion_tokens": 5,
        "estimated_calls": 0,
    }
    assert by_id["c"]["llm"]["failures"] == 1
    # The words: every published message passes every check (refused drafts are not published); the one
    # turn whose model call failed was said from the phrase bank.
    words = m["words"]
    assert (words["messages"], words["readable"], words["readable_rate"]) == (18, 18, 1.0)
    assert all(check == {"failures": 0, "pass_rate": 1.0} for check in words["checks"].values())
    assert words["examples"] == {}
    assert words["written_by"] == {"model": 17, "phrase_bank": 1, "model_readable_rate": 1.0}
    assert words["proposals"]["asked"] == 0
    assert m["messages_per_negotiation"] == {"median": 4, "mean": 3.6, "distribution": {"3": 2, "4": 3}}
    assert by_id["d"]["readable_messages"] == 4 and by_id["d"]["failed_checks"] == {}

    assert report["scenarios"]["used"] == 5 and report["scenarios"]["with_zone_of_agreement"] == 4
    assert report["settings"]["seed"] == 11 and report["settings"]["database"] == "temp"
    assert report["human_reference"]["deal_rate"] == 0.758
    assert report["arms"][0]["llm"]["model"] == "fake-model"
    assert "| deal rate, all | 80.0 % (4) | 75.8 % |" in stdout
    assert "| leaks of a private price (must be 0) | 0 | – |" in stdout
    assert stderr.count("[narrate ") == 5 and f"scenario d: agreed at {deal['d']:.2f}" in stderr
    # A throwaway database by default: the configured one holds none of these negotiations.
    assert not Negotiation.objects.exists()


def test_the_report_is_deterministic_for_a_fixed_seed_in_rule_mode(tmp_path):
    reports = []
    for run in (1, 2):
        out_path = tmp_path / f"run{run}.json"
        evaluate(
            "--scenarios",
            str(DATA),
            "--limit",
            "12",
            "--mode",
            "rule",
            "--seed",
            "5",
            "--concurrency",
            "3",
            "--out",
            str(out_path),
        )
        reports.append(json.loads(out_path.read_text()))
    first, second = (without_timing(r) for r in reports)
    assert first == second
    metrics = first["arms"][0]["metrics"]
    assert metrics["negotiations"] == 12 and metrics["deals"] > 0
    assert "timing" in reports[0] and "timing" in reports[0]["arms"][0]["negotiations"][0]

    out_path = tmp_path / "other-seed.json"
    evaluate("--scenarios", str(DATA), "--limit", "12", "--mode", "rule", "--seed", "6", "--out", str(out_path))
    other = without_timing(json.loads(out_path.read_text()))
    assert other["arms"][0]["negotiations"] != first["arms"][0]["negotiations"]  # the seed matters


def test_a_rule_baseline_runs_beside_the_llm_configuration_on_the_same_seeds(tmp_path):
    out_path = tmp_path / "report.json"
    stdout, _ = evaluate(
        "--scenarios",
        write_scenarios(tmp_path, FIVE),
        "--max-rounds",
        "2",
        "--seed",
        "3",
        "--baseline",
        "rule",
        "--baseline",
        "llm/narrate",
        "--out",
        str(out_path),
        provider=FakeProvider(),
    )
    report = json.loads(out_path.read_text())
    names = [arm["config"]["name"] for arm in report["arms"]]
    assert names == ["narrate", "rule", "llm/narrate"]
    narrate, rule, _mixed = report["arms"]
    assert rule["metrics"]["llm"]["calls"] == 0 and rule["llm"] is None
    # Same seeds, same strategy: the moves (not the words) are identical.
    assert [(n["status"], n["agreed_price"]) for n in narrate["negotiations"]] == [
        (n["status"], n["agreed_price"]) for n in rule["negotiations"]
    ]
    assert "| metric | narrate | rule | llm/narrate | human (CraigslistBargain) |" in stdout
    assert report["complete"] is True


def test_an_interrupted_run_keeps_the_report_of_the_configurations_it_finished(tmp_path):
    out_path = tmp_path / "report.json"
    dying = FakeProvider(respond=lambda request: Crash())  # the process "dies" in the second configuration
    with pytest.raises(Crash):
        evaluate(
            "--scenarios",
            write_scenarios(tmp_path, FIVE),
            "--mode",
            "rule",
            "--baseline",
            "narrate",
            "--out",
            str(out_path),
            provider=dying,
        )
    report = json.loads(out_path.read_text())
    assert report["complete"] is False
    assert [arm["config"]["name"] for arm in report["arms"]] == ["rule"]
    assert report["arms"][0]["metrics"]["negotiations"] == 5


def test_db_configured_keeps_the_negotiations_in_the_configured_database(tmp_path):
    evaluate(
        "--scenarios",
        write_scenarios(tmp_path, FIVE),
        "--mode",
        "rule",
        "--db",
        "configured",
        "--out",
        str(tmp_path / "r.json"),
    )
    assert Negotiation.objects.count() == 5


def test_db_file_keeps_a_sqlite_file_and_leaves_the_configured_database_alone(tmp_path):
    db_file = tmp_path / "kept" / "evaluation.sqlite3"
    evaluate(
        "--scenarios",
        write_scenarios(tmp_path, FIVE),
        "--mode",
        "rule",
        "--db",
        str(db_file),
        "--out",
        str(tmp_path / "r.json"),
    )
    assert db_file.exists() and db_file.stat().st_size > 0
    assert not Negotiation.objects.exists()
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["settings"]["database"] == str(db_file.resolve())


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--scenarios", "/nonexistent/scenarios.json"], "cannot read scenarios"),
        (["--scenarios", "MALFORMED"], "cannot read scenarios"),
        (["--scenarios", "NOT_A_LIST"], "a scenario file holds a JSON list"),
        (["--scenarios", "MISSING_FIELD"], "malformed scenario"),
        (["--scenarios", "EMPTY"], "holds no scenarios"),
        (["--scenarios", "NEGATIVE"], "scenario x: listing_price and buyer_target must be positive"),
        (["--scenarios", "FIVE", "--mode", "telepathy"], "invalid choice: 'telepathy'"),
        (["--scenarios", "FIVE", "--buyer-mode", "shout"], "invalid choice: 'shout'"),
        (["--scenarios", "FIVE", "--strategy", "tit-for-tat"], "invalid choice: 'tit-for-tat'"),
        (["--scenarios", "FIVE", "--limit", "0"], "--limit must be at least 1"),
        (["--scenarios", "FIVE", "--concurrency", "0"], "--concurrency must be at least 1"),
        (["--scenarios", "FIVE", "--max-rounds", "0"], "--max-rounds must be between 1 and 50"),
        (["--scenarios", "FIVE", "--seed", "-1"], "--seed must be between 0 and"),
        (["--scenarios", "FIVE", "--temperature", "3"], "--temperature must be between 0 and 2"),
        (["--scenarios", "FIVE", "--baseline", "rule/llm/narrate"], "--baseline 'rule/llm/narrate'"),
        (["--scenarios", "FIVE", "--baseline", "magic"], "--baseline 'magic'"),
        (["--scenarios", "FIVE", "--out", "/nonexistent/dir/report.json"], "does not exist"),
        ([], "--scenarios"),
    ],
    ids=[
        "missing-file",
        "malformed-json",
        "not-a-list",
        "missing-field",
        "empty",
        "negative-price",
        "unknown-mode",
        "unknown-buyer-mode",
        "unknown-strategy",
        "limit-0",
        "concurrency-0",
        "max-rounds-0",
        "negative-seed",
        "temperature",
        "baseline-three-modes",
        "baseline-unknown",
        "out-dir-missing",
        "no-scenarios-option",
    ],
)
def test_bad_arguments_are_a_clear_command_error_and_write_nothing(tmp_path, args, message):
    files = {
        "MALFORMED": '[{"id": 1, ',
        "NOT_A_LIST": json.dumps({"id": "1"}),
        "MISSING_FIELD": json.dumps([{"id": "1", "title": "Desk"}]),
        "EMPTY": "[]",
        "NEGATIVE": json.dumps([{**FIVE[0], "id": "x", "listing_price": -5}]),
        "FIVE": json.dumps(FIVE),
    }
    args = [write_scenarios(tmp_path, files[a], f"{a}.json") if a in files else a for a in args]
    out_path = tmp_path / "report.json"
    if "--out" not in args:
        args += ["--out", str(out_path)]
    with pytest.raises(CommandError, match=re.escape(message)):
        evaluate(*args, provider=FakeProvider())
    assert not out_path.exists()
    assert not Negotiation.objects.exists()


def test_an_llm_configuration_whose_provider_does_not_answer_fails_before_playing(tmp_path):
    out_path = tmp_path / "report.json"
    with pytest.raises(
        CommandError, match="The LLM provider 'no-such-provider' is not usable for the 'narrate' configuration"
    ):
        evaluate(
            "--scenarios",
            write_scenarios(tmp_path, FIVE),
            "--provider",
            "no-such-provider",
            "--db",
            "configured",
            "--out",
            str(out_path),
        )
    assert not out_path.exists()
    assert not Negotiation.objects.exists()
