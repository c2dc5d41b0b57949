"""Race standings from one upstream snapshot: amounts, positions, prizes, gaps (pure)."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from decimal import ROUND_HALF_UP, Context, Decimal

import msgspec

from server.leaderboard.board import Player
from server.leaderboard.periods import ROLLOVER_WINDOW, looks_like_reset
from server.money import derived_amount, exact
from server.races.model import Race, RaceKind, Winner

# all_time growth below this is not wagering (an upstream re-rounding of a large amount); the
# growth itself is an exact decimal difference (derived_amount)
GROWTH_EPSILON = 1e-7


class Standing(msgspec.Struct, frozen=True):
    """One row of a race: also the wire row of `race` and `standings` messages."""

    position: int
    prev_position: int | None  # position at the previous sync; None: not in the standings then
    uid: str
    name: str
    amount: float
    prize_cents: int  # what this place wins if the race ended now (0 when not qualified)
    gap: float | None  # amount behind the place above; None for first place, 0 when tied with it
    qualified: bool  # amount >= the race's minimum wager (both in whole cents)
    tied: int = 1  # players on this position: more than 1 when tied; they cover places position..position+tied-1


_CENTS = Context(prec=700)  # exact for any float (money._EXACT's reasoning)
_ONE = Decimal(1)


def amount_cents(amount: float) -> int:
    """An amount as races compare it: whole cents, rounded half away from zero from the
    decimal the upstream printed (what the pages show: 2.675 is 268, 0.125 is 13).

    Amounts arrive as USD floats at full precision; two players whose amounts show the same
    cents are tied, whatever digits lie beyond."""
    x = amount * 100.0
    if 0.0 <= x < 1e12:
        nearest = math.floor(x + 0.5)
        # Far from a half cent, the float's error (under 1e-3 here) cannot change the answer.
        if abs(x - nearest) < 0.49:
            return int(nearest)
    return int(_CENTS.multiply(exact(amount), 100).quantize(_ONE, ROUND_HALF_UP, _CENTS))


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
        start = base.get(p.uid, 0.0)
        if p.all_time <= start:  # no growth, the common case: skip the decimal arithmetic
            continue
        growth = derived_amount(p.all_time, start)  # 1000.3 - 989.387 is 10.913, not 10.913000000000011
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
    """Order by amount in whole cents (equal cents by uid), then number, price and qualify.

    Players with the same amount in cents are tied: they share the position of the first of
    them (1, 2, 2, 4) and split the prizes of the places they cover equally, each share
    rounded down to the cent; the leftover cents (fewer than the players tied) are not paid
    out, as with the split's own rounding. Positions count everyone with an amount; since the
    order is by amount, qualified players hold the top positions and the prizes of the first
    `len(prizes)` places go to them.
    """
    ordered = sorted(((amount_cents(a), uid, name, a) for uid, name, a in amounts), key=lambda e: (-e[0], e[1]))
    min_cents = amount_cents(min_wager)
    rows: list[Standing] = []
    start = 0
    while start < len(ordered):
        cents = ordered[start][0]
        end = start + 1
        while end < len(ordered) and ordered[end][0] == cents:
            end += 1
        qualified = cents >= min_cents
        share = sum(prizes[start:end]) // (end - start) if qualified else 0
        for i in range(start, end):
            _, uid, name, amount = ordered[i]
            rows.append(
                Standing(
                    position=start + 1,
                    prev_position=previous.get(uid),
                    uid=uid,
                    name=name,
                    amount=amount,
                    prize_cents=share,
                    gap=None if i == 0 else 0.0 if i > start else derived_amount(ordered[i - 1][3], amount),
                    qualified=qualified,
                    tied=end - start,
                )
            )
        start = end
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


def accept_snapshot(race: Race, synced_at: datetime, previous: Sequence[Standing], new: Sequence[Standing]) -> bool:
    """Whether a snapshot may replace a monthly or weekly race's standings.

    Standings follow the data (a refund lowers an amount like any move), except for a
    snapshot near or after the race's end that looks like the period starting over
    (`periods.looks_like_reset`): that belongs to the next period, so the race keeps the
    standings it had. Upstream's rollover instant is not documented, so "near" is
    `ROLLOVER_WINDOW` before `ends_at`. A rollover early in a race is upstream starting the
    period late, and is taken.
    """
    if race.kind is RaceKind.CUSTOM or synced_at < race.ends_at - ROLLOVER_WINDOW:
        return True
    return not looks_like_reset(((row.uid, row.amount) for row in previous), {row.uid: row.amount for row in new})


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
