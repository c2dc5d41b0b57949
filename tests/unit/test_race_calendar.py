"""Month and week boundaries, and which automatic races exist at a moment."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from server.races.calendar import Series, month_window, plan, sprint_window, week_window
from server.races.model import RaceKind


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


@pytest.mark.parametrize(
    ("now", "window"),
    [
        (utc(2026, 11, 30, 23, 59, 59, 999_999), (utc(2026, 11, 1), utc(2026, 12, 1))),
        (utc(2026, 12, 1), (utc(2026, 12, 1), utc(2027, 1, 1))),
        (utc(2026, 12, 31, 23, 59, 59), (utc(2026, 12, 1), utc(2027, 1, 1))),
        (utc(2028, 2, 29, 12), (utc(2028, 2, 1), utc(2028, 3, 1))),
        # 01:00 on 1 Dec in UTC+2 is still November in UTC
        (datetime(2026, 12, 1, 1, tzinfo=timezone(timedelta(hours=2))), (utc(2026, 11, 1), utc(2026, 12, 1))),
    ],
)
def test_month_window(now: datetime, window: tuple[datetime, datetime]) -> None:
    assert month_window(now) == window


@pytest.mark.parametrize(
    ("now", "monday"),
    [
        (utc(2026, 11, 29, 23, 59, 59), utc(2026, 11, 23)),  # Sunday night
        (utc(2026, 11, 30), utc(2026, 11, 30)),  # Monday 00:00 starts a new week
        (utc(2026, 11, 26, 12), utc(2026, 11, 23)),
        (utc(2027, 1, 1, 8), utc(2026, 12, 28)),  # a week across the new year
    ],
)
def test_week_window_runs_monday_to_monday(now: datetime, monday: datetime) -> None:
    assert week_window(now) == (monday, monday + timedelta(days=7))
    assert monday.weekday() == 0


def test_sprint_windows_are_aligned_and_back_to_back() -> None:
    window = sprint_window(10)
    assert window(utc(2026, 11, 26, 6, 9, 59)) == (utc(2026, 11, 26, 6, 0), utc(2026, 11, 26, 6, 10))
    assert window(utc(2026, 11, 26, 6, 10)) == (utc(2026, 11, 26, 6, 10), utc(2026, 11, 26, 6, 20))


MONTHLY = Series("monthly", RaceKind.MONTHLY, month_window, 100_000, (50.0, 30.0, 20.0))
WEEKLY = Series("weekly", RaceKind.WEEKLY, week_window, 25_000, (60.0, 40.0))


def test_the_next_month_exists_before_this_one_ends() -> None:
    specs = plan([MONTHLY], utc(2026, 11, 30, 23, 59, 59))
    assert [(s.auto_key, s.starts_at, s.ends_at) for s in specs] == [
        ("monthly:2026-11", utc(2026, 11, 1), utc(2026, 12, 1)),
        ("monthly:2026-12", utc(2026, 12, 1), utc(2027, 1, 1)),
    ]
    assert specs[0].title == "November 2026 race"
    after = plan([MONTHLY], utc(2026, 12, 1))
    assert [s.auto_key for s in after] == ["monthly:2026-12", "monthly:2027-01"]


def test_week_keys_across_the_new_year() -> None:
    specs = plan([WEEKLY], utc(2027, 1, 3, 23, 59))
    assert [s.auto_key for s in specs] == ["weekly:2026-W53", "weekly:2027-W01"]
    assert specs[1].starts_at == utc(2027, 1, 4)
    assert all(s.kind is RaceKind.WEEKLY and s.pool_cents == 25_000 for s in specs)


def test_plan_is_stable_within_a_period() -> None:
    # The keys decide what gets created: the same moment-independent key all month long.
    early = plan([MONTHLY], utc(2026, 11, 1))
    late = plan([MONTHLY], utc(2026, 11, 30, 12))
    assert early == late
