"""The tolerant reader of `llm`-mode moves."""

from decimal import Decimal

import pytest

from negotiations.agents.proposals import parse_proposal


@pytest.mark.parametrize(
    "raw, action, price, message",
    [
        (
            "<action>offer</action><price>123</price><message>How about $123?</message>",
            "offer",
            "123",
            "How about $123?",
        ),
        ("<ACTION> Counter </ACTION>\n<price>$1,200.50</price>\n<message>ok then", "offer", "1200.50", "ok then"),
        ("Action: accept\nPrice: 99\nMessage: Deal!", "accept", "99", "Deal!"),
        ("<action>walk away</action><message>Bye.</message>", "walk_away", None, "Bye."),
        ("<action>accept</action>Sure, deal.", "accept", None, "Sure, deal."),
        ("<action>haggle</action><price>12</price>", None, "12", ""),
        ("I think I will offer 300", None, None, "I think I will offer 300"),
    ],
)
def test_tolerant_reading(raw, action, price, message):
    proposal = parse_proposal(raw)
    assert proposal.action == action
    assert proposal.price == (None if price is None else Decimal(price))
    assert proposal.message == message


def test_an_ambiguous_price_is_not_guessed():
    assert parse_proposal("<action>offer</action><price>1 200</price>").price is None


def test_a_price_with_more_than_two_decimals_is_unreadable():
    assert parse_proposal("<action>offer</action><price>10.005</price>").price is None


@pytest.mark.parametrize(
    "raw, action, price, message",
    [
        ('{"action": "offer", "price": 123, "message": "How about $123?"}', "offer", "123", "How about $123?"),
        ('{"action": "offer", "price": 123.5, "message": "ok"}', "offer", "123.5", "ok"),
        ('{"action": "accept", "price": "$1,200", "message": "Deal."}', "accept", "1200", "Deal."),
        ('  {"action":"walk_away","price":0,"message":"Bye."} trailing words', "walk_away", None, "Bye."),
        ('{"action": "counter", "price": 99, "message": ""}', "offer", "99", ""),
        ('{"action": "offer", "price": true, "message": "x"}', "offer", None, "x"),
        ('{"action": "offer", "price": 10.005, "message": "x"}', "offer", None, "x"),
    ],
)
def test_a_json_proposal_is_read_first(raw, action, price, message):
    proposal = parse_proposal(raw)
    assert proposal.action == action
    assert proposal.price == (None if price is None else Decimal(price))
    assert proposal.message == message


def test_broken_json_falls_back_to_the_tags():
    proposal = parse_proposal('{"action": "offer", <price>50</price> <action>offer</action>')
    assert (proposal.action, proposal.price) == ("offer", Decimal("50"))
