"""USD amounts as people read them, and amounts derived from two others, without float noise (pure).

The rule (docs/protocol.md, "Amounts"): an amount is read from its shortest decimal form
(`repr`, what the upstream printed), shown in cents rounded half away from zero, with comma
thousands and a `$` prefix. web/js/money.js applies the same rule in the browser.
"""

from __future__ import annotations

import math
from decimal import ROUND_HALF_UP, Context, Decimal

__all__ = ["derived_amount", "exact", "usd", "usd_cents"]

_CENT = Decimal("0.01")
# Digits enough for any two floats (1.8e308 down to 5e-324): no amount is cut short or refused.
_EXACT = Context(prec=700)


def exact(amount: float) -> Decimal:
    """The decimal the float was printed as: 2.675 is 2.675, not 2.67499999999999982236431605997495353221893310546875."""
    return Decimal(repr(float(amount)))


def usd(amount: float) -> str:
    """`$1,234.57` for 1234.565; `$0.13` for 0.125; `$0.00` for 1e-7."""
    if not math.isfinite(amount):
        return "—"
    cents = exact(amount).quantize(_CENT, ROUND_HALF_UP, _EXACT)  # ROUND_HALF_UP is half away from zero
    sign = "-" if cents < 0 else ""
    return f"{sign}${abs(cents):,.2f}"


def usd_cents(value: int) -> str:
    """A whole number of cents (prizes, pools), exact: `$1,000` when whole dollars, else `$1,000.50`."""
    dollars, rest = divmod(abs(value), 100)
    sign = "-" if value < 0 else ""
    return f"{sign}${dollars:,}.{rest:02d}" if rest else f"{sign}${dollars:,}"


def derived_amount(a: float, b: float) -> float:
    """`a - b` as the decimals they were printed as: 50.1 - 40.03 is 10.07, not 10.070000000000000284."""
    return float(_EXACT.subtract(exact(a), exact(b)))
