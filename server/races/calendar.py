"""Automatic races: which monthly, weekly (and demo sprint) races should exist at a moment (pure)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol
from datetime import UTC, datetime, timedelta

import msgspec

from server.leaderboard.periods import Window, month_window, week_window
from server.races.model import RaceKind

DEMO_MONTHLY_POOL_CENTS = 1_000_00
DEMO_WEEKLY_POOL_CENTS = 250_00
DEMO_SPRINT_POOL_CENTS = 100_00
DEMO_SPRINT_MINUTES = 10
DEMO_SPLIT = (50.0, 25.0, 15.0, 10.0)
DEMO_SPRINT_SPLIT = (50.0, 30.0, 20.0)


def sprint_window(minutes: int) -> Callable[[datetime], Window]:
    """Back-to-back races of `minutes`, aligned to the epoch (10 -> :00, :10, :20, ...)."""
    length = minutes * 60

    def window(now: datetime) -> Window:
        start = datetime.fromtimestamp(int(now.timestamp()) // length * length, UTC)
        return start, start + timedelta(seconds=length)

    return window


class RaceSpec(msgspec.Struct, frozen=True, kw_only=True):
    """An automatic race to create unless its `auto_key` exists already."""

    auto_key: str
    title: str
    kind: RaceKind
    starts_at: datetime
    ends_at: datetime
    pool_cents: int
    split: tuple[float, ...]
    min_wager: float
    description: str


@dataclass(frozen=True, slots=True)
class Series:
    """One kind of automatic race: a window function and the prize terms."""

    name: str  # monthly | weekly | sprint
    kind: RaceKind
    window: Callable[[datetime], Window]
    pool_cents: int
    split: tuple[float, ...]
    min_wager: float = 0.0

    def spec(self, window: Window) -> RaceSpec:
        start, end = window
        return RaceSpec(
            auto_key=f"{self.name}:{_key(self.name, start)}",
            title=_title(self.name, start, end),
            kind=self.kind,
            starts_at=start,
            ends_at=end,
            pool_cents=self.pool_cents,
            split=self.split,
            min_wager=self.min_wager,
            description=_DESCRIPTIONS[self.name],
        )


def plan(series: list[Series], now: datetime) -> list[RaceSpec]:
    """The races that should exist at `now`: each series' current window and the next one,
    so the next race is always there (and announced) before the current one ends."""
    specs: list[RaceSpec] = []
    for s in series:
        current = s.window(now)
        following = s.window(current[1])
        specs.append(s.spec(current))
        specs.append(s.spec(following))
    return specs


class RaceSettings(Protocol):
    """The settings auto_series reads (server/settings.py's `Settings` has them all)."""

    demo: bool
    race_monthly_pool_cents: int | None
    race_weekly_pool_cents: int | None
    race_monthly_split: tuple[float, ...]
    race_weekly_split: tuple[float, ...]
    race_min_wager: float


def auto_series(settings: RaceSettings) -> list[Series]:
    """The automatic races the settings ask for; demo mode adds a monthly, a weekly and a
    10-minute sprint race so a newcomer sees a race start, move and end."""
    series: list[Series] = []
    monthly = settings.race_monthly_pool_cents or (DEMO_MONTHLY_POOL_CENTS if settings.demo else None)
    if monthly:
        series.append(Series("monthly", RaceKind.MONTHLY, month_window, monthly, settings.race_monthly_split, settings.race_min_wager))
    weekly = settings.race_weekly_pool_cents or (DEMO_WEEKLY_POOL_CENTS if settings.demo else None)
    if weekly:
        series.append(Series("weekly", RaceKind.WEEKLY, week_window, weekly, settings.race_weekly_split, settings.race_min_wager))
    if settings.demo:
        series.append(
            Series("sprint", RaceKind.CUSTOM, sprint_window(DEMO_SPRINT_MINUTES), DEMO_SPRINT_POOL_CENTS, DEMO_SPRINT_SPLIT)
        )
    return series


def _key(name: str, start: datetime) -> str:
    if name == "monthly":
        return start.strftime("%Y-%m")
    if name == "weekly":
        year, week, _ = start.isocalendar()
        return f"{year}-W{week:02d}"
    return start.strftime("%Y-%m-%dT%H:%M")


def _title(name: str, start: datetime, end: datetime) -> str:
    if name == "monthly":
        return f"{start:%B %Y} race"
    if name == "weekly":
        last = end - timedelta(days=1)
        return f"Weekly race {start:%d %b} - {last:%d %b %Y}"
    return f"Sprint {start:%H:%M} UTC"


_DESCRIPTIONS = {
    "monthly": "Ranked by wagers this calendar month (UTC).",
    "weekly": "Ranked by wagers this week, Monday to Sunday (UTC).",
    "sprint": "Demo sprint: ranked by what each player wagers during these 10 minutes.",
}
