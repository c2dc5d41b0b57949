"""Period windows in UTC and the rollover rule (a boundary passed, within the window)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from server.leaderboard.board import Period
from server.leaderboard.periods import ROLLOVER_WINDOW, period_window, rolled_over


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


@pytest.mark.parametrize(
    ("period", "at", "window"),
    [
        (Period.TODAY, utc(2026, 11, 30, 23, 59, 59), (utc(2026, 11, 30), utc(2026, 12, 1))),
        (Period.TODAY, utc(2028, 2, 29, 0, 0), (utc(2028, 2, 29), utc(2028, 3, 1))),
        (Period.WEEKLY, utc(2026, 11, 30, 0, 0), (utc(2026, 11, 30), utc(2026, 12, 7))),  # a Monday
        (Period.WEEKLY, utc(2026, 11, 29, 23, 59), (utc(2026, 11, 23), utc(2026, 11, 30))),  # a Sunday
        (Period.WEEKLY, utc(2027, 1, 1, 12), (utc(2026, 12, 28), utc(2027, 1, 4))),  # ISO week across a year
        (Period.MONTHLY, utc(2026, 12, 31, 23, 59, 59), (utc(2026, 12, 1), utc(2027, 1, 1))),
        (Period.MONTHLY, utc(2028, 2, 29, 12), (utc(2028, 2, 1), utc(2028, 3, 1))),
        (Period.ALL_TIME, utc(2026, 11, 30), None),
    ],
)
def test_period_windows(period: Period, at: datetime, window: tuple[datetime, datetime] | None) -> None:
    assert period_window(period, at) == window


MIDNIGHT = utc(2027, 3, 1)  # a Monday and the 1st: every period rolls over at once
Q = timedelta(minutes=15)


@pytest.mark.parametrize(
    ("period", "previous", "at", "expected"),
    [
        # two syncs 15 minutes apart across the boundary
        (Period.TODAY, MIDNIGHT - Q / 3, MIDNIGHT + Q * 2 / 3, True),
        (Period.WEEKLY, MIDNIGHT - Q / 3, MIDNIGHT + Q * 2 / 3, True),
        (Period.MONTHLY, MIDNIGHT - Q / 3, MIDNIGHT + Q * 2 / 3, True),
        (Period.ALL_TIME, MIDNIGHT - Q / 3, MIDNIGHT + Q * 2 / 3, False),
        # upstream rolled over late: the boundary is just behind the previous sync
        (Period.TODAY, MIDNIGHT + timedelta(minutes=50), MIDNIGHT + timedelta(minutes=65), True),
        (Period.TODAY, MIDNIGHT + timedelta(minutes=61), MIDNIGHT + timedelta(minutes=76), False),
        # upstream rolled over early: the boundary is just ahead
        (Period.TODAY, MIDNIGHT - timedelta(minutes=75), MIDNIGHT - timedelta(minutes=60), True),
        (Period.TODAY, MIDNIGHT - timedelta(minutes=76), MIDNIGHT - timedelta(minutes=61), False),
        # mid-period: no boundary anywhere near
        (Period.MONTHLY, utc(2026, 11, 30, 10), utc(2026, 11, 30, 10, 15), False),
        (Period.WEEKLY, utc(2026, 12, 2, 0, 10), utc(2026, 12, 2, 0, 25), False),  # a day boundary only
        (Period.TODAY, utc(2026, 12, 2, 0, 10), utc(2026, 12, 2, 0, 25), True),
        # a long gap (a restart after days) always spans a boundary of the shorter periods
        (Period.WEEKLY, utc(2026, 11, 2), utc(2026, 11, 20), True),
        (Period.TODAY, None, utc(2026, 11, 20), True),
    ],
)
def test_rolled_over(period: Period, previous: datetime | None, at: datetime, expected: bool) -> None:
    assert rolled_over(period, previous, at) is expected


def test_the_window_is_an_hour() -> None:
    assert ROLLOVER_WINDOW == timedelta(hours=1)
