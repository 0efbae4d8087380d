"""The clean-up of what a small model writes: the agent's first sentences, nothing else."""

import pytest

from negotiations.agents.text import clean_text, strip_control_chars


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("Hi Rebekka,\nI can do $53 for it. It is great. Really.", "I can do $53 for it. It is great."),
        ("Seller: I can do $60.\nBuyer: ok, deal", "I can do $60."),
        ('"Deal at $48."', "Deal at $48."),
        ("<message>Sure thing</message>", "Sure thing"),
        ("Hi Rebekka,", "Hi Rebekka,"),
        ("   \n  ", ""),
    ],
    ids=["salutation-and-third-sentence", "other-speaker", "quotes", "tags", "only-a-salutation", "blank"],
)
def test_clean_text_keeps_the_first_sentences_the_agent_said(raw, expected):
    assert clean_text(raw) == expected


def test_clean_text_caps_the_length():
    assert len(clean_text("word " * 200)) <= 301


@pytest.mark.parametrize(
    "raw",
    ["Sure\x00 thing.", "Sure\x07 thing.\x7f", "Sure\ud800 thing.", "Sure\x85 thing."],
    ids=["nul", "bell-and-del", "lone-surrogate", "c1-control"],
)
def test_clean_text_drops_control_characters_and_lone_surrogates(raw):
    assert clean_text(raw) == "Sure thing."


def test_strip_control_chars_keeps_tabs_and_line_breaks():
    assert strip_control_chars("a\x00b\tc\r\nd") == "ab\tc\r\nd"
