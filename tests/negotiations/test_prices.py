"""Price parsing and the number spellings the leak guardrail must recognise."""

import re
from decimal import Decimal

import pytest

from negotiations.prices import PriceError, format_price, parse_price, price_mentions


@pytest.mark.parametrize(
    "text, value",
    [
        ("$1,200", "1200"),
        ("1200.00", "1200"),
        ("1.2k", "1200"),
        ("1.2K", "1200"),
        ("1 200 dollars", "1200"),
        ("EUR 1.200,50", "1200.50"),
        ("1200,50", "1200.50"),
        ("USD1200", "1200"),
        ("12 hundred", "1200"),
        ("twelve hundred", "1200"),
        ("one thousand two hundred", "1200"),
        ("a grand", "1000"),
        ("three fifty", "350"),
        ("three hundred and fifty", "350"),
        ("350 bucks", "350"),
        ("0.35k", "350"),
        ("1k2", "1200"),
        ("1K25", "1250"),
        ("1-2-0-0", "1200"),
        ("1 2 0 0", "1200"),
        ("one two zero zero", "1200"),
    ],
)
def test_every_spelling_of_a_price_is_read(text, value):
    readings = {v for m in price_mentions(f"My floor is {text}, sorry.") for v in m.values}
    assert Decimal(value) in readings


def test_small_counts_are_read_but_not_marked_as_prices():
    mentions = price_mentions("I have 2 kids and 3 cats")
    assert [(m.values, m.marked) for m in mentions] == [((Decimal(2),), False), ((Decimal(3),), False)]


def test_currency_signs_and_cents_mark_a_number_as_a_price():
    assert all(m.marked for m in price_mentions("$5 or 4.50"))


def test_text_without_numbers_has_no_mentions():
    assert price_mentions("Thanks, I will think about it.") == []


@pytest.mark.parametrize(
    "value, expected",
    [
        ("12.3", "12.30"),
        ("12", "12.00"),
        ("450.00", "450.00"),
        (12, "12.00"),
        (1.1, "1.10"),
        (450.5, "450.50"),
        (1e3, "1000.00"),
        (Decimal("12.50"), "12.50"),
        (Decimal("1E+3"), "1000.00"),
    ],
    ids=[
        "string",
        "string-integer",
        "string-cents",
        "int",
        "float",
        "json-number",
        "json-exponent-number",
        "decimal",
        "decimal-exponent",
    ],
)
def test_parse_price_accepts_positive_amounts_with_at_most_two_decimals(value, expected):
    assert parse_price(value) == Decimal(expected)


@pytest.mark.parametrize(
    "value",
    [
        "0",
        "-1",
        "abc",
        "12.345",
        "NaN",
        "Infinity",
        True,
        None,
        "",
        "1e20",
        "1e3",
        "450.000",
        " 12 ",
        "12 ",
        "\u0661\u0662",
        "+3",
        "1,200",
        ".5",
        "5.",
        "0x10",
        Decimal("1.001"),
        0.1 + 0.2,
        float("nan"),
        -5,
        10**5000,
    ],
    ids=lambda value: "huge-int" if isinstance(value, int) and value > 10**100 else repr(value)[:20],
)
def test_parse_price_refuses_everything_else(value):
    with pytest.raises(PriceError):
        parse_price(value)


def test_format_price_drops_zero_cents_and_groups_thousands():
    assert format_price(Decimal("1250.00")) == "$1,250"
    assert format_price(Decimal("1250.5")) == "$1,250.50"
    assert format_price(Decimal("3"), "chf") == "3 CHF"


def test_every_spelling_the_module_docstring_promises_is_read():
    # The docstring is what the guardrail's readers rely on: each example it lists must be recognised.
    import negotiations.prices as prices

    what = prices.__doc__.split("WHY:")[0]
    spellings = re.findall(r'"([^"]+)"', what)
    assert len(spellings) >= 10
    for spelling in spellings:
        readings = {v for m in price_mentions(f"My floor is {spelling}, sorry.") for v in m.values}
        assert (Decimal(350) if spelling == "three fifty" else Decimal(1200)) in readings, spelling
