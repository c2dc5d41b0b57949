"""Countdown and lifecycle decisions: seconds left, what is due at `now`, when to wake (pure)."""

from __future__ import annotations

import math
from collections.abc import Iterable
from datetime import datetime, timedelta
from enum import StrEnum

from server.races.model import Finalized, Race, RaceStatus


RESULT_LINGER = timedelta(seconds=30)  # race:current keeps showing a finished race's winners


class Transition(StrEnum):
    START = "start"  # upcoming -> live
    END = "end"  # live -> ended


def seconds_left(race: Race, now: datetime) -> int:
    """Whole seconds to the start while upcoming, to the end while live; 0 otherwise.

    Rounded up, so a tick a few milliseconds after a whole second still reads the same
    number as the second before it would, and 0 means the moment has come.
    """
    if race.status is RaceStatus.UPCOMING:
        target = race.starts_at
    elif race.status is RaceStatus.LIVE:
        target = race.ends_at
    else:
        return 0
    return max(0, math.ceil((target - now).total_seconds() - 1e-3))


def due(race: Race, now: datetime) -> Transition | None:
    """The transition `race` needs at `now`, if any. A race whose start and end both passed
    (all servers were down) starts first; the end follows on the next decision."""
    if race.status is RaceStatus.UPCOMING and race.starts_at <= now:
        return Transition.START
    if race.status is RaceStatus.LIVE and race.ends_at <= now:
        return Transition.END
    return None


def next_due_at(races: Iterable[Race], now: datetime) -> datetime | None:
    """The earliest future start or end among upcoming and live races."""
    moments = []
    for race in races:
        if race.status is RaceStatus.UPCOMING:
            moments.append(race.starts_at)
        elif race.status is RaceStatus.LIVE:
            moments.append(race.ends_at)
    later = [m for m in moments if m > now]
    return min(later) if later else None


DUE_AFTER = 0.005  # seconds a wake-up aims past a start or end: one a little early still finds it due


def wake_delay(races: Iterable[Race], decided_at: datetime, now: datetime, recheck: float) -> float:
    """Seconds from `now` until the lifecycle should decide again: just past the next start or
    end after `decided_at` (the instant its last decision saw), at most `recheck`.

    Counted from the decision, not from `now`: a wake-up a little early decides at 14:59:59.9999,
    finds nothing due, and by the time it computes the next wake-up the clock reads 15:00:00.0001;
    the 15:00 end is still ahead of the decision, so the next wake-up is in a few milliseconds,
    not at the next recheck."""
    at = next_due_at(races, decided_at)
    if at is None:
        return recheck
    return max(0.0, min(recheck, (at - now).total_seconds() + DUE_AFTER))


def finalize_how(race: Race, process_started_at: datetime) -> Finalized:
    """On time when this process was up at the end; otherwise every server was down then
    (a running replica would have finalized it), so it is finalized on start-up."""
    return Finalized.ON_TIME if race.ends_at >= process_started_at else Finalized.ON_STARTUP


def pick_current(races: Iterable[Race], now: datetime, linger: timedelta = RESULT_LINGER) -> Race | None:
    """What `race:current` shows.

    A race that just ended stays current while its result is being settled and for `linger`
    after, so its viewers see the winners; then the live race ending soonest, else the next
    race to start.
    """
    races = list(races)
    just_ended = [
        r for r in races
        if r.status is RaceStatus.ENDED and (r.finalized_at is None or r.finalized_at + linger > now)
    ]
    if just_ended:
        return max(just_ended, key=lambda r: (r.ends_at, r.id))
    live = [r for r in races if r.status is RaceStatus.LIVE]
    if live:
        return min(live, key=lambda r: (r.ends_at, r.id))
    upcoming = [r for r in races if r.status is RaceStatus.UPCOMING]
    if upcoming:
        return min(upcoming, key=lambda r: (r.starts_at, r.id))
    return None
