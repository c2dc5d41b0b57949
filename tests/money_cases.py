"""The display rule for amounts, written down once: the Python and the JavaScript formatter both answer these."""

from __future__ import annotations

# amount -> text: cents, half away from zero, rounded from the shortest decimal form (repr / String).
USD: list[tuple[float, str]] = [
    (0.125, "$0.13"),
    (0.12499999, "$0.12"),
    (2.675, "$2.68"),  # the float is 2.67499999999999982236431605997495353221893310546875
    (2.6749, "$2.67"),
    (1.005, "$1.01"),  # 1.005 * 100 is 100.49999999999999
    (0.001, "$0.00"),
    (0.005, "$0.01"),
    (0.015, "$0.02"),
    (1e-7, "$0.00"),  # String(1e-7) is "1e-7"
    (5e-324, "$0.00"),
    (10.913000000000002, "$10.91"),
    (0.30000000000000004, "$0.30"),
    (26259, "$26,259.00"),
    (1234567.891, "$1,234,567.89"),
    (999.995, "$1,000.00"),
    (999999.995, "$1,000,000.00"),
    (1.5e21, "$1,500,000,000,000,000,000,000.00"),  # String(1.5e21) is "1.5e+21"
    (100, "$100.00"),
    (0.5, "$0.50"),
    (0, "$0.00"),
    (-2.675, "-$2.68"),  # half away from zero on both sides
    (-0.001, "$0.00"),  # no "-$0.00"
]

# whole cents (prizes, pools) -> text: exact, no ".00" on whole dollars.
CENTS: list[tuple[int, str]] = [
    (0, "$0"),
    (5, "$0.05"),
    (50_025, "$500.25"),
    (100_000, "$1,000"),
    (100_050, "$1,000.50"),
    (123_456_789, "$1,234,567.89"),
]

# amount -> the short form (JavaScript only: chart axes, the overlay's `short=1`): one decimal in
# K/M/B/T, a trailing ".0" dropped, the same rounding (half away from zero, shortest decimal form).
COMPACT: list[tuple[float, str]] = [
    (0, "$0"),
    (999.99, "$1K"),
    (1000, "$1K"),
    (999_949, "$999.9K"),
    (1_000_000, "$1M"),
    (2_450_000_000, "$2.5B"),  # not $2.4B: half away from zero, not to even
    (-26259, "-$26.3K"),
    (-0.04, "$0"),  # no "-$0"
    (0.5, "$0.5"),
    (0.05, "$0.1"),
    (12.34, "$12.3"),
    (999.94, "$999.9"),
    (999.95, "$1K"),  # rounding carries into the next unit
    (1234, "$1.2K"),
    (26259, "$26.3K"),
    (26250, "$26.3K"),
    (26249.99, "$26.2K"),
    (999_950, "$1M"),
    (1_250_000, "$1.3M"),
    (3.5e9, "$3.5B"),
    (2e12, "$2T"),
    (1.5e21, "$1,500,000,000T"),
]
