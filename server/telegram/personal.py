"""Personal alerts beyond the board moves (pure): in the current race, who passed a watched
player, whether they dropped out of the paid places, whether they came within their chosen
amount of the place above; and the one DM per user per sync that carries all of it.

"Newly" needs what the previous sync saw: passes come from the standings' previous positions
(the tracker keeps them), the rest from a `Mark` kept per user and handed back each sync.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from server.money import derived_amount
from server.races.model import Race
from server.races.standings import Standing
from server.telegram.formatting import Move, alert, money, name

NAMES_SHOWN = 3  # passers named in a line; the rest are counted


@dataclass(frozen=True, slots=True)
class Prefs:
    """What one Telegram user asked to hear about (`/alerts`)."""

    places: bool = False  # their place on the boards changes (the board moves of alerts.py)
    passed: bool = False  # someone passes them in the current race
    paid: bool = False  # they drop out of the current race's paid places
    near_cents: int | None = None  # they come within this many cents of the place above in the race

    @property
    def race(self) -> bool:
        return self.passed or self.paid or self.near_cents is not None

    @property
    def any(self) -> bool:
        return self.places or self.race


@dataclass(frozen=True, slots=True)
class Mark:
    """What the last sync saw of one watcher in a race, so the next one tells "newly" from "still"."""

    race_id: int
    paid: bool  # in a paid place
    near_of: int | None  # the position above they were within their amount of; None: not within it


@dataclass(frozen=True, slots=True)
class Watcher:
    telegram_id: int
    uid: str  # their linked player
    prefs: Prefs
    mark: Mark | None = None


@dataclass(frozen=True, slots=True)
class RaceNews:
    """What happened to one watched player in the race in one sync (each kind at most once)."""

    title: str
    position: int
    passed_by: tuple[str, ...] = ()  # names, best placed first
    dropped_out: bool = False
    paid_places: int = 0
    near: tuple[float, int] | None = None  # (amount behind, position of the place above)

    def __bool__(self) -> bool:
        return bool(self.passed_by or self.dropped_out or self.near)


def race_news(race: Race, standings: Sequence[Standing], uid: str, prefs: Prefs, mark: Mark | None) -> tuple[RaceNews | None, Mark]:
    """What to tell the player `uid` about `race` after a sync, and the mark for the next one.

    `standings` are the race's rows after the sync, best first, each with its position at the
    sync before (`prev_position`). Passed: someone below them then (or not in the race) is
    above them now; a player new to the race has passed nobody's notice. Dropped out: in a paid
    place at the last sync of this race, not now. Near: within `prefs.near_cents` of the place
    above now, and not of that same place at the last sync (the first sync after opting in, or
    of a new race, counts as newly).
    """
    mine = next((s for s in standings if s.uid == uid), None)
    paid_now = mine is not None and mine.prize_cents > 0
    above = None
    if mine is not None:
        above = next((s for s in reversed(standings) if s.position < mine.position), None)
    gap = derived_amount(above.amount, mine.amount) if above is not None and mine is not None else None
    near_of = None
    if prefs.near_cents is not None and above is not None and gap is not None and round(gap * 100) <= prefs.near_cents:
        near_of = above.position
    new_mark = Mark(race.id, paid_now, near_of)
    if mine is None:
        return None, new_mark
    same_race = mark is not None and mark.race_id == race.id
    passed_by: tuple[str, ...] = ()
    if prefs.passed and mine.prev_position is not None:
        passed_by = tuple(
            s.name
            for s in standings
            if s.position < mine.position and (s.prev_position is None or s.prev_position > mine.prev_position)
        )
    dropped = prefs.paid and same_race and mark is not None and mark.paid and not paid_now
    near = None
    if near_of is not None and gap is not None and not (same_race and mark is not None and mark.near_of == near_of):
        near = (gap, near_of)
    news = RaceNews(
        title=race.title,
        position=mine.position,
        passed_by=passed_by,
        dropped_out=dropped,
        paid_places=sum(1 for p in race.prizes_cents if p > 0),
        near=near,
    )
    return (news if news else None), new_mark


def race_lines(news: RaceNews) -> list[str]:
    title = f"<b>{name(news.title)}</b>"
    lines = []
    if news.passed_by:
        who = ", ".join(name(n) for n in news.passed_by[:NAMES_SHOWN])
        if len(news.passed_by) > NAMES_SHOWN:
            who += f" and {len(news.passed_by) - NAMES_SHOWN} more"
        lines.append(f"⚔️ {title}: passed by {who} — you're #{news.position} now")
    if news.dropped_out:
        paid = f"the top {news.paid_places} win prizes" if news.paid_places else "no place wins a prize now"
        lines.append(f"💸 {title}: you dropped out of the paid places — #{news.position} now, {paid}")
    if news.near is not None:
        gap, place_above = news.near
        lines.append(f"🎯 {title}: {money(gap)} behind #{place_above} — you're #{news.position}")
    return lines


def personal_dm(player_name: str, moves: Sequence[Move], news: RaceNews | None) -> str | None:
    """One DM: the board moves (as alerts have always read) and the race news under them."""
    board = alert(player_name, moves)
    extra = race_lines(news) if news is not None else []
    if not extra:
        return board
    head = board if board is not None else f"🔔 <b>{name(player_name)}</b>"
    return "\n".join([head, *extra])
