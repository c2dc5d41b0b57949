"""The one display rule for amounts, and derived amounts without float noise (pure)."""

from __future__ import annotations

from decimal import Decimal

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from server.money import derived_amount, exact, usd, usd_cents
from server.telegram.formatting import cents, money
from tests.money_cases import CENTS, USD


@pytest.mark.parametrize(("amount", "text"), USD)
def test_amounts_read_by_the_rule(amount: float, text: str) -> None:
    assert usd(amount) == text


def test_telegram_formats_with_the_rule() -> None:
    assert [money(a) for a, _ in USD] == [t for _, t in USD]
    assert [cents(c) for c, _ in CENTS] == [t for _, t in CENTS]


@pytest.mark.parametrize(("value", "text"), CENTS)
def test_whole_cents_are_exact(value: int, text: str) -> None:
    assert usd_cents(value) == text


@given(st.integers(min_value=0, max_value=10**12))
def test_an_amount_in_whole_cents_reads_as_itself(value: int) -> None:
    # The upstream prints cents (12.3, 0.07): they show unchanged, whatever their binary float.
    amount = float(Decimal(value) / 100)
    assert usd(amount) == f"${Decimal(value) / 100:,.2f}"


def test_exact_is_the_printed_decimal() -> None:
    assert exact(2.675) == Decimal("2.675")
    assert exact(1e-7) == Decimal("1E-7")
    assert exact(26259) == Decimal("26259.0")


@pytest.mark.parametrize(
    ("a", "b", "want"),
    [
        (1000.3, 989.387, "10.913"),  # as floats: 10.913000000000011
        (50.1, 40.03, "10.07"),
        (0.3, 0.1, "0.2"),  # as floats: 0.19999999999999998
        (0.1, 0.03, "0.07"),  # as floats: 0.07000000000000001
        (100.7, 100.03, "0.67"),  # as floats: 0.6700000000000017
        (2.675, 1.0, "1.675"),  # as floats: 1.6749999999999998, which would read $1.67
        (75.0, 0.0, "75.0"),
        (10.0, 10.0, "0.0"),
    ],
)
def test_derived_amounts_are_exact_decimals(a: float, b: float, want: str) -> None:
    got = derived_amount(a, b)
    assert repr(got) == want
    assert msgspec.json.encode({"gap": got}) == b'{"gap":' + want.encode() + b"}"


def test_a_derived_amount_reads_as_its_decimal() -> None:
    assert usd(2.675 - 1.0) == "$1.67"  # the float difference: one cent short
    assert usd(derived_amount(2.675, 1.0)) == "$1.68"
