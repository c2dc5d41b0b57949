"""Race standings from one upstream snapshot: amounts, positions, prizes, gaps (pure)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime

import msgspec

from server.leaderboard.board import Player, sort_key
from server.races.model import Race, RaceKind, Winner

# all_time growth below this is float noise from subtracting two large amounts
GROWTH_EPSILON = 1e-7


class Standing(msgspec.Struct, frozen=True):
    """One row of a race: also the wire row of `race` and `standings` messages."""

    position: int
    prev_position: int | None  # position at the previous sync; None: not in the standings then
    uid: str
    name: str
    amount: float
    prize_cents: int  # what this place wins if the race ended now (0 when not qualified)
    gap: float | None  # amount behind the place above; None for first place
    qualified: bool  # amount >= the race's minimum wager


def race_amounts(
    kind: RaceKind, players: Iterable[Player], baseline: Mapping[str, float] | None = None
) -> list[tuple[str, str, float]]:
    """(uid, name, amount) for every player with an amount above zero in this race.

    Monthly races count `this_month`, weekly `this_week`; custom races the growth of
    `all_time` over `baseline` (a player missing from the baseline joined later: 0).
    """
    if kind is RaceKind.MONTHLY:
        return [(p.uid, p.name, p.monthly) for p in players if p.monthly > 0]
    if kind is RaceKind.WEEKLY:
        return [(p.uid, p.name, p.weekly) for p in players if p.weekly > 0]
    base = baseline or {}
    out = []
    for p in players:
        growth = p.all_time - base.get(p.uid, 0.0)
        if growth > GROWTH_EPSILON:
            out.append((p.uid, p.name, growth))
    return out


def rank_standings(
    amounts: Iterable[tuple[str, str, float]],
    previous: Mapping[str, int],
    *,
    min_wager: float,
    prizes: Sequence[int],
) -> tuple[Standing, ...]:
    """Order by amount (ties by uid, as every board), then number, price and qualify.

    Positions count everyone with an amount; since the order is by amount, qualified
    players hold the top positions and prizes go to the first `len(prizes)` of them.
    """
    ordered = sorted(amounts, key=lambda e: sort_key(e[0], e[2]))
    rows: list[Standing] = []
    above: float | None = None
    for position, (uid, name, amount) in enumerate(ordered, 1):
        qualified = amount >= min_wager
        prize = prizes[position - 1] if qualified and position <= len(prizes) else 0
        rows.append(
            Standing(
                position=position,
                prev_position=previous.get(uid),
                uid=uid,
                name=name,
                amount=amount,
                prize_cents=prize,
                gap=None if above is None else above - amount,
                qualified=qualified,
            )
        )
        above = amount
    return tuple(rows)


def compute(
    race: Race,
    players: Iterable[Player],
    previous: Sequence[Standing],
    baseline: Mapping[str, float] | None = None,
) -> tuple[Standing, ...]:
    """The race's standings for a snapshot; previous positions come from `previous`."""
    return rank_standings(
        race_amounts(race.kind, players, baseline),
        {row.uid: row.position for row in previous},
        min_wager=race.min_wager,
        prizes=race.prizes_cents,
    )


def looks_like_reset(previous: Sequence[Standing], new: Sequence[Standing]) -> bool:
    """At least half of the previous rows dropped out or went down: the period rolled over.

    Within a period amounts only grow (the same rule as the leaderboard's reset detection).
    """
    if not previous:
        return False
    amount_now = {row.uid: row.amount for row in new}.get
    dropped = 0
    for row in previous:
        now = amount_now(row.uid)
        if now is None or now < row.amount:
            dropped += 1
    return dropped * 2 >= len(previous)


def accept_snapshot(race: Race, synced_at: datetime, previous: Sequence[Standing], new: Sequence[Standing]) -> bool:
    """Whether a snapshot may replace a monthly or weekly race's standings.

    The upstream's period boundaries are not documented. A rollover seen in the first half
    of a race is the upstream starting the period late, so it counts; one seen in the second
    half (typically the final sync just after ends_at) belongs to the next period, so the
    race keeps the standings it had.
    """
    if race.kind is RaceKind.CUSTOM or not looks_like_reset(previous, new):
        return True
    halfway = race.starts_at + (race.ends_at - race.starts_at) / 2
    return synced_at < halfway


def winners(standings: Sequence[Standing]) -> tuple[Winner, ...]:
    return tuple(
        Winner(position=s.position, uid=s.uid, name=s.name, amount=s.amount, prize_cents=s.prize_cents)
        for s in standings
        if s.prize_cents > 0
    )


def changed_rows(previous: Sequence[Standing], new: Sequence[Standing]) -> tuple[list[Standing], list[str]]:
    """(rows to write, uids to delete) turning the stored standings into `new`."""
    before = {row.uid: row for row in previous}
    write = [row for row in new if before.get(row.uid) != row]
    kept = {row.uid for row in new}
    return write, [uid for uid in before if uid not in kept]
