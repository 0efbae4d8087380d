"""WHAT: prices as people say them: the rounding table (a step per price range) and `round_offer`,
     which rounds an offer to its step without ever crossing the side's limit or the list price.
WHY: "$161.88" reads like a machine; people ask "$160" and offer "$1,200" or "$14,500". Rounding must
     still never move an offer past the private limit, nor a seller's ask above its list price.
HOW: a price rounds to the step of its range (ROUNDING_TABLE), away from the limit: a buyer rounds
     down, a seller up, so the limit is never crossed. A seller's rounded ask above `cap` (its list
     price) takes the cap itself; `max_margin` asks for the coarsest step of the ladder (the table's
     steps, then cents) that keeps the price that close to the limit. docs/negotiations.md has the table.
"""

from __future__ import annotations

from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

from negotiations.prices import CENT

__all__ = ["ROUNDING_TABLE", "round_offer", "round_to_step", "step_for"]

# (prices below this, step); the last row has no upper bound. Each bound is a multiple of every step
# below it, so rounding stays monotonic across the rows (a rising price never rounds lower).
ROUNDING_TABLE: tuple[tuple[Decimal | None, Decimal], ...] = (
    (Decimal(10), Decimal("0.50")),
    (Decimal(100), Decimal(1)),
    (Decimal(1000), Decimal(5)),
    (Decimal(10000), Decimal(25)),
    (None, Decimal(100)),
)
# Finer and finer steps, down to the cent: what a price near the limit may fall back to.
LADDER: tuple[Decimal, ...] = (Decimal(100), Decimal(25), Decimal(5), Decimal(1), Decimal("0.50"), CENT)


def step_for(price: Decimal) -> Decimal:
    """The rounding step of `price`'s range in the table."""
    for bound, step in ROUNDING_TABLE:
        if bound is None or price < bound:
            return step
    raise AssertionError("the table's last row has no bound")  # pragma: no cover


def round_to_step(price: Decimal, step: Decimal, *, down: bool) -> Decimal:
    """`price` rounded to a multiple of `step`, down or up, in cents."""
    units = (price / step).to_integral_value(rounding=ROUND_FLOOR if down else ROUND_CEILING)
    return (units * step).quantize(CENT)


def round_offer(
    price: Decimal, *, role: str, limit: Decimal, cap: Decimal | None = None, max_margin: Decimal | None = None
) -> Decimal:
    """`price` (on the right side of `limit`) as people would say it, never past `limit`.

    A buyer rounds down and a seller up, each to the table's step for the price (never to zero: a
    finer step then). `cap` bounds a seller's ask (its list price): a rounded ask above it is the cap
    itself, when the cap still lies on the seller's side of its limit. With `max_margin`, the coarsest
    step that keeps the rounded price within `max_margin` of the limit is used."""
    down = role == "buyer"
    table_step = step_for(price)
    rounded = price
    for step in (s for s in LADDER if s <= table_step):
        rounded = round_to_step(price, step, down=down)
        close_enough = max_margin is None or abs(rounded - limit) <= max_margin
        if rounded > 0 and close_enough:
            break
    else:
        rounded = max(price.quantize(CENT, rounding=ROUND_FLOOR if down else ROUND_CEILING), CENT)
    if not down and cap is not None and rounded > cap >= max(price, limit):
        rounded = cap
    return rounded
