"""Prize splits, prize money in cents, and the race settings."""

from __future__ import annotations

import math
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from server.errors import BadRequest, ConfigError
from server.races.calendar import auto_series
from server.races.model import (
    InvalidRace,
    RaceKind,
    cents_from_amount,
    check_terms,
    prizes_cents,
    split_from_text,
    validate_split,
)
from server.settings import Settings


@pytest.mark.parametrize(
    "split",
    [[50, 25, 15, 10], [100], [33.3, 33.3, 33.3], [12.5] * 8, [40.5, 40.5, 19], [0.01]],
)
def test_good_splits_pass(split: list[float]) -> None:
    assert validate_split(split) == tuple(float(s) for s in split)


@pytest.mark.parametrize(
    ("split", "reason"),
    [
        ([40, 25, 15, 10, 7, 6.5], "103.5%"),  # the split of the system we replace
        ([60, 50], "110"),
        ([50, 50.000001], "must not increase"),
        ([30, 40], "must not increase"),
        ([50, 0], "above 0"),
        ([50, -5], "above 0"),
        ([], "at least one"),
        ([math.nan], "not a number"),
        ([math.inf], "not a number"),
        ([True], "not a number"),
        (["50"], "not a number"),
        ("50,50", "list"),
        ([0.5] * 101, "at most 100"),
    ],
)
def test_bad_splits_are_refused_with_the_reason(split: list[float], reason: str) -> None:
    with pytest.raises(InvalidRace, match=reason) as refused:
        validate_split(split)
    assert isinstance(refused.value, BadRequest) and refused.value.status_code == 400


def test_a_total_of_exactly_100_is_not_spoiled_by_float_sums() -> None:
    split = [36.7, 32.2, 20.1, 4.9, 3.9, 2.2]
    assert sum(split) > 100  # 100.00000000000001 in floats
    validate_split(split)


@pytest.mark.parametrize(
    ("pool", "split", "prizes"),
    [
        (1_000_00, [50, 25, 15, 10], (50_000, 25_000, 15_000, 10_000)),
        (100, [29], (29,)),  # 100 * 29 / 100 in floats is 28.999999999999996
        (1000, [33.3, 33.3, 33.3], (333, 333, 333)),
        (999, [50, 50], (499, 499)),  # never more than the pool: a cent stays unpaid
        (1, [60, 40], (0, 0)),
        (0, [100], (0,)),
    ],
)
def test_prizes_are_cents_rounded_down(pool: int, split: list[float], prizes: tuple[int, ...]) -> None:
    assert prizes_cents(pool, split) == prizes


splits = st.lists(st.integers(1, 10_000), min_size=1, max_size=30).map(
    lambda raw: sorted((round(r * 100 / max(sum(raw), 1) * 0.999, 3) or 0.001 for r in raw), reverse=True)
)


@given(pool=st.integers(0, 10**12), split=splits)
def test_payouts_never_exceed_the_pool_and_follow_the_split(pool: int, split: list[float]) -> None:
    validate_split(split)
    prizes = prizes_cents(pool, split)
    assert sum(prizes) <= pool
    assert list(prizes) == sorted(prizes, reverse=True)
    for share, prize in zip(split, prizes, strict=True):
        exact = pool * share / 100
        assert exact - 1 - 1e-6 * exact <= prize <= exact + 1e-6 * exact


@pytest.mark.parametrize(
    ("text", "cents"),
    [("1000", 100_000), ("1,000.50", 100_050), ("0.01", 1), ("12.5", 1250), ("2_500", 250_000)],
)
def test_amounts_become_cents(text: str, cents: int) -> None:
    assert cents_from_amount(text) == cents


@pytest.mark.parametrize("text", ["abc", "0", "-5", "1.005", "nan", "inf", ""])
def test_bad_amounts_are_refused(text: str) -> None:
    with pytest.raises(ValueError):
        cents_from_amount(text)


def test_split_text() -> None:
    assert split_from_text("50, 25,15 ,10") == (50.0, 25.0, 15.0, 10.0)
    assert split_from_text("60%,40%") == (60.0, 40.0)
    with pytest.raises(ValueError, match="commas"):
        split_from_text("fifty")
    with pytest.raises(ValueError, match="exceed 100"):
        split_from_text("60,50")


@pytest.mark.parametrize(
    ("env", "names"),
    [
        ({"RACE_MONTHLY_POOL": "lots"}, "RACE_MONTHLY_POOL"),
        ({"RACE_WEEKLY_POOL": "-1"}, "RACE_WEEKLY_POOL"),
        ({"RACE_MONTHLY_SPLIT": "50,25,15,10,7,6.5"}, "RACE_MONTHLY_SPLIT"),
        ({"RACE_WEEKLY_SPLIT": "10,20"}, "RACE_WEEKLY_SPLIT"),
        ({"RACE_MIN_WAGER": "-3"}, "RACE_MIN_WAGER"),
    ],
)
def test_race_settings_name_the_variable(env: dict[str, str], names: str) -> None:
    with pytest.raises(ConfigError, match=names):
        Settings.from_env(env)


def test_automatic_races_follow_the_settings() -> None:
    demo = {s.name: s for s in auto_series(Settings.from_env({}))}
    assert set(demo) == {"monthly", "weekly", "sprint"}  # a newcomer sees a race start and end
    live = Settings.from_env({"GOATED_TOKEN": "t"})
    assert auto_series(live) == []
    configured = Settings.from_env(
        {"GOATED_TOKEN": "t", "RACE_MONTHLY_POOL": "5000", "RACE_MONTHLY_SPLIT": "70,30", "RACE_MIN_WAGER": "100"}
    )
    (monthly,) = auto_series(configured)
    assert (monthly.kind, monthly.pool_cents, monthly.split, monthly.min_wager) == (RaceKind.MONTHLY, 500_000, (70.0, 30.0), 100.0)


def _terms(**overrides: object) -> dict[str, object]:
    terms: dict[str, object] = {
        "kind": RaceKind.CUSTOM,
        "title": "Friday sprint",
        "starts_at": datetime(2026, 11, 27, 18, tzinfo=UTC),
        "ends_at": datetime(2026, 11, 27, 20, tzinfo=UTC),
        "pool_cents": 10_000,
        "min_wager": 0.0,
        "description": "",
        "window": None,
    }
    terms.update(overrides)
    return terms


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"title": "  "}, "title"),
        ({"ends_at": datetime(2026, 11, 27, 18, tzinfo=UTC)}, "after starts_at"),
        ({"starts_at": datetime(2026, 11, 27, 18)}, "UTC offset"),
        ({"pool_cents": -1}, "pool_cents"),
        ({"min_wager": math.nan}, "min_wager"),
        (
            {"kind": RaceKind.MONTHLY, "window": (datetime(2026, 11, 1, tzinfo=UTC), datetime(2026, 12, 1, tzinfo=UTC))},
            "calendar month",
        ),
    ],
)
def test_race_terms_are_checked(overrides: dict[str, object], reason: str) -> None:
    check_terms(**_terms())  # type: ignore[arg-type]
    with pytest.raises(InvalidRace, match=reason):
        check_terms(**_terms(**overrides))  # type: ignore[arg-type]
