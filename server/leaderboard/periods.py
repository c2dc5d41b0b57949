"""Period calendars: the UTC windows of today, this week and this month, and whether a
period rolled over between two snapshots (pure)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta

from server.leaderboard.board import Period

__all__ = [
    "ROLLOVER_WINDOW",
    "Window",
    "day_window",
    "looks_like_reset",
    "month_window",
    "period_window",
    "rolled_over",
    "week_window",
]

Window = tuple[datetime, datetime]

# Upstream's exact rollover instant is not documented: a reset seen up to this long before
# or after a UTC boundary counts as that boundary's rollover (docs/upstream.md, "Periods").
ROLLOVER_WINDOW = timedelta(hours=1)


def day_window(at: datetime) -> Window:
    """The UTC day holding `at`: [00:00, next 00:00)."""
    at = at.astimezone(UTC)
    start = datetime(at.year, at.month, at.day, tzinfo=UTC)
    return start, start + timedelta(days=1)


def week_window(at: datetime) -> Window:
    """The ISO week holding `at` in UTC, Monday 00:00 to Monday 00:00 (upstream's this_week)."""
    start = day_window(at)[0] - timedelta(days=at.astimezone(UTC).weekday())
    return start, start + timedelta(days=7)


def month_window(at: datetime) -> Window:
    """The UTC calendar month holding `at`: [1st 00:00, next 1st 00:00)."""
    at = at.astimezone(UTC)
    start = datetime(at.year, at.month, 1, tzinfo=UTC)
    end = datetime(at.year + at.month // 12, at.month % 12 + 1, 1, tzinfo=UTC)
    return start, end


_WINDOWS = {Period.TODAY: day_window, Period.WEEKLY: week_window, Period.MONTHLY: month_window}


def period_window(period: Period, at: datetime) -> Window | None:
    """The window of `period` holding `at`; None for all_time, which never rolls over."""
    window = _WINDOWS.get(period)
    return window(at) if window is not None else None


def rolled_over(period: Period, previous_at: datetime | None, at: datetime, slack: timedelta = ROLLOVER_WINDOW) -> bool:
    """Whether a boundary of `period` lies in (previous_at - slack, at + slack].

    Only then may a drop in the amounts be the period starting over; any other drop is a
    correction (a refund). With no previous snapshot there is nothing to tell apart: True.
    """
    window = _WINDOWS.get(period)
    if window is None:
        return False
    if previous_at is None:
        return True
    # The first boundary after previous_at - slack is the end of the window holding it.
    return window(previous_at - slack)[1] <= at + slack


def looks_like_reset(previous: Iterable[tuple[str, float]], now: Mapping[str, float]) -> bool:
    """Whether amounts dropped the way a period starting over drops them.

    `previous` is (uid, amount) of the last snapshot's rows, `now` the amounts now (a missing
    uid is 0). Both must hold: at least half of the rows went down or left, and those rows'
    total fell to half or less. A refund lowers one player a little; a rollover takes nearly
    everything. Within a period amounts only grow, so this is rare outside a boundary; the
    callers also require one (`rolled_over`, or a race's end).
    """
    rows = dropped = 0
    before = after = 0.0
    for uid, amount in previous:
        rows += 1
        current = now.get(uid, 0.0)
        before += amount
        after += current
        if current < amount:
            dropped += 1
    return rows > 0 and dropped * 2 >= rows and after * 2 <= before
