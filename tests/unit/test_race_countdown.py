"""Countdown math and lifecycle decisions, with the clock passed in."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import msgspec
import pytest

from server.races.countdown import (
    RESULT_LINGER,
    Transition,
    due,
    finalize_how,
    next_due_at,
    pick_current,
    seconds_left,
    wake_delay,
)
from server.races.model import Finalized, Race, RaceKind, RaceStatus

T0 = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


def race(id: int = 1, status: RaceStatus = RaceStatus.UPCOMING, start: int = 60, end: int = 3600, **kw: object) -> Race:
    return Race(
        id=id,
        version=1,
        title=f"r{id}",
        kind=RaceKind.CUSTOM,
        status=status,
        starts_at=T0 + timedelta(seconds=start),
        ends_at=T0 + timedelta(seconds=end),
        pool_cents=100,
        split=(100.0,),
        **kw,  # type: ignore[arg-type]
    )


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


@pytest.mark.parametrize(
    ("status", "now", "left"),
    [
        (RaceStatus.UPCOMING, at(0), 60),
        (RaceStatus.UPCOMING, at(0.004), 60),  # a tick a few ms late reads the same second
        (RaceStatus.UPCOMING, at(0.5), 60),
        (RaceStatus.UPCOMING, at(1), 59),
        (RaceStatus.UPCOMING, at(60), 0),
        (RaceStatus.UPCOMING, at(90), 0),  # overdue: never negative
        (RaceStatus.LIVE, at(60), 3540),
        (RaceStatus.LIVE, at(3599), 1),
        (RaceStatus.LIVE, at(3600), 0),
        (RaceStatus.ENDED, at(10), 0),
        (RaceStatus.CANCELLED, at(10), 0),
    ],
)
def test_seconds_left(status: RaceStatus, now: datetime, left: int) -> None:
    assert seconds_left(race(status=status), now) == left


def test_ticks_count_down_one_per_second() -> None:
    live = race(status=RaceStatus.LIVE, start=0, end=10)
    readings = [seconds_left(live, at(s + 0.002)) for s in range(11)]
    assert readings == [10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0]


def test_transitions_are_due_at_their_second_not_at_a_sync() -> None:
    upcoming = race(status=RaceStatus.UPCOMING)
    assert due(upcoming, at(59.999)) is None
    assert due(upcoming, at(60)) is Transition.START
    live = race(status=RaceStatus.LIVE)
    assert due(live, at(3599.999)) is None
    assert due(live, at(3600)) is Transition.END  # whenever the last sync was
    assert due(race(status=RaceStatus.ENDED), at(9999)) is None
    assert due(race(status=RaceStatus.CANCELLED), at(9999)) is None


def test_a_race_missed_entirely_starts_then_ends() -> None:
    missed = race(status=RaceStatus.UPCOMING)
    assert due(missed, at(7200)) is Transition.START
    assert due(msgspec.structs.replace(missed, status=RaceStatus.LIVE), at(7200)) is Transition.END


def test_next_wake_is_the_nearest_start_or_end() -> None:
    races = [
        race(1, RaceStatus.LIVE, start=-100, end=500),
        race(2, RaceStatus.UPCOMING, start=300, end=900),
        race(3, RaceStatus.ENDED, start=-900, end=-1),
    ]
    assert next_due_at(races, at(0)) == at(300)
    assert next_due_at(races, at(300)) == at(500)  # 2 is due now (handled), 1 ends next
    assert next_due_at(races[2:], at(0)) is None


@pytest.mark.parametrize(
    ("decided_at", "now", "delay"),
    [
        (at(0), at(0), 300.005),  # the start at 300, aimed 5 ms past it
        (at(299.9999), at(299.9999), 0.0051),  # woke a little early: a few ms more
        (at(299.9999), at(300.0001), 0.0049),  # ...and the clock passed 300 while deciding: still 300 next
        (at(299.9999), at(300.01), 0.0),  # decided before 300, now well past: at once
        (at(300), at(300.002), 200.003),  # 300 handled by that decision: the end at 500 is next
        (at(600), at(600), 3600.0),  # nothing ahead: the recheck
        (at(0), at(0.5), 299.505),
    ],
)
def test_the_next_wake_up_counts_from_the_decision(decided_at: datetime, now: datetime, delay: float) -> None:
    races = [race(1, RaceStatus.LIVE, start=-100, end=500), race(2, RaceStatus.UPCOMING, start=300, end=900)]
    assert wake_delay(races, decided_at, now, recheck=3600.0) == pytest.approx(delay, abs=1e-6)
    assert wake_delay(races, decided_at, now, recheck=30.0) == pytest.approx(min(delay, 30.0), abs=1e-6)  # at most the recheck


def test_on_time_or_on_startup() -> None:
    ended_at_noon = race(status=RaceStatus.LIVE, start=-60, end=0)
    assert finalize_how(ended_at_noon, process_started_at=at(-3600)) is Finalized.ON_TIME
    assert finalize_how(ended_at_noon, process_started_at=at(120)) is Finalized.ON_STARTUP


def test_current_race_choice() -> None:
    monthly = race(1, RaceStatus.LIVE, start=-10_000, end=100_000)
    sprint = race(2, RaceStatus.LIVE, start=-60, end=540)
    nxt = race(3, RaceStatus.UPCOMING, start=540, end=1140)
    later = race(4, RaceStatus.UPCOMING, start=5000, end=6000)
    assert pick_current([monthly, sprint, nxt], at(0)) == sprint  # the live one ending soonest
    assert pick_current([nxt, later], at(0)) == nxt  # else the next to start
    assert pick_current([], at(0)) is None
    ended = msgspec.structs.replace(sprint, status=RaceStatus.ENDED)
    # Just ended: it stays current while its result is archived and for a while after.
    assert pick_current([monthly, ended, nxt], at(541)) == ended
    settled = msgspec.structs.replace(ended, finalized=Finalized.ON_TIME, finalized_at=at(545))
    assert pick_current([monthly, settled, nxt], at(545) + RESULT_LINGER - timedelta(seconds=1)) == settled
    assert pick_current([monthly, settled, nxt], at(545) + RESULT_LINGER) == monthly
    cancelled = msgspec.structs.replace(sprint, status=RaceStatus.CANCELLED)
    assert pick_current([cancelled, nxt], at(0)) == nxt
