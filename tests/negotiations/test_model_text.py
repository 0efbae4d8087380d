"""The clean-up of what a small model writes: the agent's first sentences, nothing else."""
import pytest

from negotiations.model_text import clean_text


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
