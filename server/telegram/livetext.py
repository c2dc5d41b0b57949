"""What the live message says (pure): the top of a board or of the current race, the race
countdown (never in seconds, so it changes the text at most once a minute) and when the numbers
were synced; one message, below Telegram's limit."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import datetime

from server.leaderboard.board import Board
from server.races.countdown import seconds_left
from server.races.model import Race, RaceStatus
from server.races.standings import Standing
from server.telegram.formatting import MAX_LENGTH, PERIOD_LABEL, cents, money, name, place


def countdown(seconds: float) -> str:
    """`2d 4h`, `3h 12m`, `12m`, `under a minute`: never seconds, so the countdown changes
    the text at most once a minute."""
    total = max(0, int(seconds))
    days, rest = divmod(total, 86_400)
    hours, rest = divmod(rest, 3_600)
    minutes = rest // 60
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes}m"
    if minutes:
        return f"{minutes}m"
    return "under a minute"


def live_race(races: Sequence[Race], now: datetime) -> Race | None:
    """The race the message follows: the live one ending soonest (as `race:current` shows)."""
    live = [r for r in races if r.status is RaceStatus.LIVE and r.starts_at <= now < r.ends_at]
    return min(live, key=lambda r: (r.ends_at, r.id), default=None)


def next_race(races: Sequence[Race], now: datetime) -> Race | None:
    upcoming = [r for r in races if r.status is RaceStatus.UPCOMING and r.starts_at > now]
    return min(upcoming, key=lambda r: (r.starts_at, r.id), default=None)


def race_text(race: Race, standings: Sequence[Standing], now: datetime, synced_at: datetime | None, top: int) -> str:
    """The live message following a race: its countdown, pool and top `top` with prizes."""
    head = [
        f"🏁 <b>{name(race.title)}</b> · live",
        f"⏳ ends in {countdown(seconds_left(race, now))} · prize pool {cents(race.pool_cents)}",
    ]
    rows = [f"{place(s.position)} {name(s.name)} — {money(s.amount)}{f' · {cents(s.prize_cents)}' if s.prize_cents else ''}" for s in standings[:top]]
    if not rows:
        rows = ["No wagers yet: the podium is wide open."]
    return _fit(head, rows, _updated(synced_at))


def board_text(board: Board, races: Sequence[Race], now: datetime, synced_at: datetime | None, top: int) -> str:
    """The live message following a board: its top `top`, and the race countdown if a race
    is live (or the next one's start)."""
    head = [f"🏆 <b>{PERIOD_LABEL[board.period]}</b> — top {top}"]
    rows = [f"{place(r.rank)} {name(r.name)} — {money(r.amount)}" for r in board.rows[:top]]
    if not rows:
        rows = [f"No wagers on the {PERIOD_LABEL[board.period].lower()} board yet."]
    tail: list[str] = []
    race = live_race(races, now)
    if race is not None:
        tail.append(f"⏳ <b>{name(race.title)}</b> ends in {countdown(seconds_left(race, now))} · prize pool {cents(race.pool_cents)}")
    elif (upcoming := next_race(races, now)) is not None:
        tail.append(f"🗓 <b>{name(upcoming.title)}</b> starts in {countdown(seconds_left(upcoming, now))}")
    return _fit(head, rows, [*tail, *_updated(synced_at)])


def _updated(synced_at: datetime | None) -> list[str]:
    return [f"<i>updated {synced_at:%H:%M} UTC</i>"] if synced_at is not None else []


def _fit(head: list[str], rows: list[str], tail: list[str]) -> str:
    """One message (an edit cannot be split): rows from the bottom give way to the limit."""
    while True:
        text = "\n".join([*head, *rows, *tail])
        if len(text.encode("utf-16-le")) // 2 <= MAX_LENGTH or len(rows) <= 1:
            return text
        rows = rows[:-1]


def text_hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()
