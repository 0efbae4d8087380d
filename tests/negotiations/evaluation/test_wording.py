"""The words metrics: each public message checked again from the log, pass rates, readable rate, example
failures, who wrote the words, and the `llm`-mode proposal figures."""

from __future__ import annotations

from decimal import Decimal
from types import SimpleNamespace

from negotiations.evaluation.wording import CHECKS, message_verdicts, proposals, words_summary

LISTING = Decimal("200")
SECRETS = {"buyer": {Decimal("150"), Decimal("120")}, "seller": {Decimal("140"), Decimal("200")}}


def message(seq, actor, action, price, text, turn=None):
    data = {"turn": turn or seq, "action": action, "price": price, "text": text}
    return SimpleNamespace(seq=seq, type="message", actor=actor, visibility="public", data=data)


def private(seq, actor, type_, **data):
    return SimpleNamespace(seq=seq, type=type_, actor=actor, visibility=actor, data=data)


LOG = [
    message(1, "seller", "offer", "200.00", "Hi! The bike is still available. I'm asking $200."),
    message(2, "buyer", "offer", "120.00", "Buyer: I would like it."),  # a label, and no price
    message(3, "seller", "offer", "180.00", "Please provide a response with the following format: $180"),
    private(4, "buyer", "guardrail", turn=4, kind="missing_own_price", remedy="phrase"),
    message(5, "buyer", "offer", "135.00", "Would you take $135 for the bike?", turn=4),
    message(6, "seller", "offer", "170.00", "I can do $170, my floor is $140.", turn=5),
    message(7, "buyer", "accept", "170.00", "The bike is red.", turn=6),
]


def verdicts(model_roles=frozenset({"buyer", "seller"})):
    return message_verdicts(LOG, listing_price=LISTING, secrets=SECRETS, model_roles=set(model_roles))


def test_each_public_message_gets_the_checks_it_fails():
    found = {v.seq: v.failed for v in verdicts()}
    assert found == {
        1: (),
        2: ("missing_own_price", "role_label"),
        3: ("meta_talk",),
        5: (),
        6: ("private_price_in_text",),
        7: ("unstated_acceptance",),
    }


def test_earlier_offers_and_the_list_price_may_be_named():
    log = [
        message(1, "seller", "offer", "180.00", "It lists at $200, but I can do $180."),
        message(2, "buyer", "offer", "130.00", "You said $180; would you take $130?"),
        message(3, "seller", "offer", "160.00", "Not $130, but $160, down from $200."),
    ]
    assert [v.failed for v in message_verdicts(log, listing_price=LISTING, secrets=SECRETS, model_roles=set())] == [
        (),
        (),
        (),
    ]


def test_who_wrote_the_words():
    by = {v.seq: v.by for v in verdicts()}
    assert by[5] == "phrase_bank" and by[1] == "model"  # turn 4's guardrail said a phrase was used
    assert {v.by for v in verdicts(model_roles={"seller"}) if v.actor == "buyer"} == {"phrase_bank"}  # rule mode


def test_the_summary_has_each_checks_pass_rate_the_readable_rate_and_examples():
    summary = words_summary([("s1", verdicts())], [])
    assert (summary["messages"], summary["readable"], summary["readable_rate"]) == (6, 2, round(2 / 6, 4))
    assert set(summary["checks"]) == set(CHECKS)
    assert summary["checks"]["role_label"] == {"failures": 1, "pass_rate": round(5 / 6, 4)}
    assert summary["checks"]["bad_length"] == {"failures": 0, "pass_rate": 1.0}
    [example] = summary["examples"]["meta_talk"]
    assert example["scenario_id"] == "s1" and example["text"].startswith("Please provide a response")
    assert example["failed"] == ["meta_talk"] and example["actor"] == "seller"
    assert summary["written_by"] == {"model": 5, "phrase_bank": 1, "model_readable_rate": round(1 / 5, 4)}


def test_examples_are_capped_per_check():
    many = [("s", verdicts()) for _ in range(5)]
    assert len(words_summary(many, [])["examples"]["role_label"]) == 3


def test_proposals_parsed_adopted_and_constrained():
    thought = lambda seq, turn, **proposal: private(seq, "buyer", "thought", turn=turn, proposal=proposal)  # noqa: E731
    log = [
        thought(1, 2, action="offer", price="120.00", constrained=True),  # adopted
        thought(2, 4, action="offer", price=None, constrained=True),  # unreadable: no price
        thought(3, 6, action="offer", price="999.00", constrained=True),  # parsed, refused
        private(4, "buyer", "guardrail", turn=6, kind="beyond_limit"),
        thought(5, 8, action=None, price=None, constrained=False),  # unreadable
        private(6, "buyer", "thought", turn=10, reasoning="narrate turn: no proposal"),
    ]
    stats = proposals(log)
    assert (stats.proposals, stats.parsed, stats.adopted, stats.constrained) == (4, 2, 1, 3)
    summary = words_summary([], [stats])["proposals"]
    assert summary == {
        "asked": 4,
        "parsed": 2,
        "parse_rate": 0.5,
        "adopted": 1,
        "adopted_rate": 0.25,
        "constrained": 3,
    }


def test_no_messages_no_rates():
    summary = words_summary([], [])
    assert summary["readable_rate"] is None and summary["proposals"]["parse_rate"] is None


def test_a_side_repeating_its_own_sentence_is_caught_from_the_log():
    log = [
        message(1, "buyer", "offer", "120.00", "I'm very interested. Would you consider $120 for it?"),
        message(2, "seller", "offer", "180.00", "I'm very interested. Would you consider $180 for it?"),
        message(3, "buyer", "offer", "130.00", "I'm very interested. Would you consider $130 for it?"),
    ]
    found = [v.failed for v in message_verdicts(log, listing_price=LISTING, secrets=SECRETS, model_roles=set())]
    assert found == [(), (), ("repeated_text",)]  # only the side's own earlier words count
