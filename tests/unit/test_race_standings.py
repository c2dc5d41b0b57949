"""Race standings from snapshots: which amount counts, positions, prizes, gaps, baselines, resets."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import msgspec
import pytest

from server.leaderboard.board import Player
from server.leaderboard.periods import looks_like_reset
from server.races.model import Race, RaceKind, RaceStatus
from server.races.standings import (
    Standing,
    accept_snapshot,
    changed_rows,
    compute,
    rank_standings,
    winners,
)

START = datetime(2026, 11, 1, tzinfo=UTC)
END = datetime(2026, 12, 1, tzinfo=UTC)


def race(kind: RaceKind = RaceKind.MONTHLY, **kw: object) -> Race:
    values: dict[str, object] = {
        "id": 1,
        "version": 1,
        "title": "t",
        "kind": kind,
        "status": RaceStatus.LIVE,
        "starts_at": START,
        "ends_at": END,
        "pool_cents": 1_000_00,
        "split": (50.0, 30.0, 20.0),
    }
    values.update(kw)
    return Race(**values)  # type: ignore[arg-type]


def p(uid: str, *, today: float = 0, weekly: float = 0, monthly: float = 0, all_time: float = 0) -> Player:
    return Player(uid, f"name-{uid}", today, weekly, monthly, all_time)


PLAYERS = [
    p("a", weekly=10, monthly=500, all_time=9000),
    p("b", weekly=300, monthly=300, all_time=300),
    p("c", weekly=0, monthly=700, all_time=20000),
    p("d"),  # never wagered
]


def table(rows: tuple[Standing, ...]) -> list[tuple[int, str, float]]:
    return [(r.position, r.uid, r.amount) for r in rows]


def test_monthly_races_rank_by_this_month() -> None:
    rows = compute(race(RaceKind.MONTHLY), PLAYERS, ())
    assert table(rows) == [(1, "c", 700), (2, "a", 500), (3, "b", 300)]


def test_weekly_races_rank_by_this_week_and_leave_out_zero() -> None:
    rows = compute(race(RaceKind.WEEKLY), PLAYERS, ())
    assert table(rows) == [(1, "b", 300), (2, "a", 10)]


def test_custom_races_rank_by_all_time_growth_since_the_baseline() -> None:
    baseline = {"a": 8000.0, "b": 300.0, "c": 19950.0}  # taken at the start; "e" joined later
    later = [
        p("a", all_time=9000),  # +1000
        p("b", all_time=300),  # nothing during the race
        p("c", all_time=20000),  # +50: the biggest all-time wagerer is not first
        p("e", all_time=75),  # new referral: all of it is in the race
    ]
    rows = compute(race(RaceKind.CUSTOM), later, (), baseline)
    assert table(rows) == [(1, "a", 1000), (2, "e", 75), (3, "c", 50)]


def test_a_baseline_snapshot_itself_gives_empty_standings() -> None:
    baseline = {pl.uid: pl.all_time for pl in PLAYERS}
    assert compute(race(RaceKind.CUSTOM), PLAYERS, (), baseline) == ()


def test_float_noise_is_not_growth() -> None:
    baseline = {"a": 0.1 + 0.2}
    assert compute(race(RaceKind.CUSTOM), [p("a", all_time=0.30000000000000004 + 1e-12)], (), baseline) == ()


def test_custom_growth_is_the_decimal_difference() -> None:
    rows = compute(race(RaceKind.CUSTOM), [p("a", all_time=1000.3), p("b", all_time=0.3)], (), {"a": 989.387, "b": 0.1})
    assert table(rows) == [(1, "a", 10.913), (2, "b", 0.2)]  # as floats: 10.913000000000011, 0.19999999999999998
    assert b'"amount":10.913,' in msgspec.json.encode(rows[0])
    assert b'"gap":10.713,' in msgspec.json.encode(rows[1])


def test_gaps_are_exact_decimals_and_amounts_compare_in_cents() -> None:
    amounts = [("a", "A", 50.1), ("b", "B", 40.03), ("c", "C", 0.1), ("e", "E", 0.0300001), ("d", "D", 0.03), ("f", "F", 0.025)]
    rows = rank_standings(amounts, {}, min_wager=0, prizes=())
    # 0.0300001 and 0.03 are both 3 cents: tied, listed by uid; 0.025 is 3 cents too (half up)
    assert [(r.position, r.uid) for r in rows] == [(1, "a"), (2, "b"), (3, "c"), (4, "d"), (4, "e"), (4, "f")]
    assert [r.gap for r in rows] == [None, 10.07, 39.93, 0.07, 0, 0]
    assert msgspec.json.encode([r.gap for r in rows]) == b"[null,10.07,39.93,0.07,0.0,0.0]"


def test_previous_positions_gaps_and_prizes() -> None:
    first = compute(race(), PLAYERS, ())
    assert [r.prev_position for r in first] == [None, None, None]
    moved = [p("a", monthly=900), p("b", monthly=300), p("c", monthly=700), p("f", monthly=5)]
    rows = compute(race(), moved, first)
    assert [(r.uid, r.position, r.prev_position) for r in rows] == [("a", 1, 2), ("c", 2, 1), ("b", 3, 3), ("f", 4, None)]
    assert [r.gap for r in rows] == [None, 200, 400, 295]
    assert [r.prize_cents for r in rows] == [50_000, 30_000, 20_000, 0]


def test_players_under_the_minimum_are_shown_but_win_nothing() -> None:
    rows = compute(race(min_wager=400), PLAYERS, ())
    assert [(r.uid, r.qualified, r.prize_cents) for r in rows] == [("c", True, 50_000), ("a", True, 30_000), ("b", False, 0)]
    assert [w.uid for w in winners(rows)] == ["c", "a"]  # third prize stays unpaid


def test_equal_amounts_share_a_position_and_are_listed_by_uid() -> None:
    rows = compute(race(), [p("z", monthly=10), p("m", monthly=10), p("q", monthly=20)], ())
    assert table(rows) == [(1, "q", 20), (2, "m", 10), (2, "z", 10)]
    assert rows[2].gap == 0 and [r.tied for r in rows] == [1, 2, 2]
    assert [r.prize_cents for r in rows] == [50_000, 25_000, 25_000]  # places 2 and 3 (30% + 20%) shared


def test_fewer_players_than_paid_places() -> None:
    rows = compute(race(), [p("a", monthly=1)], ())
    assert [w.prize_cents for w in winners(rows)] == [50_000]


def _pairs(rows: tuple[Standing, ...]) -> list[tuple[str, float]]:
    return [(r.uid, r.amount) for r in rows]


def _amounts(rows: tuple[Standing, ...]) -> dict[str, float]:
    return {r.uid: r.amount for r in rows}


def test_reset_detection() -> None:
    before = compute(race(), PLAYERS, ())
    rolled = compute(race(), [p("a", monthly=3), p("b"), p("c")], before)
    assert looks_like_reset(_pairs(before), _amounts(rolled))
    grew = compute(race(), [p("a", monthly=600), p("b", monthly=300), p("c", monthly=700)], before)
    assert not looks_like_reset(_pairs(before), _amounts(grew))
    assert not looks_like_reset([], _amounts(grew))


def test_a_refund_late_in_the_race_is_followed_and_nothing_freezes() -> None:
    """The issue's case: 50 and 10 become 60 and 9 in the race's last minutes; then a third
    player arrives with 400: the race shows 400, 60, 9 with the prizes to match."""
    late = END - timedelta(minutes=10)
    first = compute(race(), [p("a", monthly=50), p("b", monthly=10)], ())
    refunded = compute(race(), [p("a", monthly=60), p("b", monthly=9)], first)
    assert accept_snapshot(race(), late, first, refunded)
    third = compute(race(), [p("a", monthly=60), p("b", monthly=9), p("c", monthly=400)], refunded)
    assert accept_snapshot(race(), late + timedelta(minutes=5), refunded, third)
    assert [(r.uid, r.amount, r.prize_cents) for r in third] == [("c", 400, 50_000), ("a", 60, 30_000), ("b", 9, 20_000)]


@pytest.mark.parametrize(
    ("at", "accepted"),
    [
        (START + timedelta(hours=5), True),  # the upstream started the month late: the reset counts
        (END - timedelta(days=1), True),  # far from the end: whatever the data says
        (END - timedelta(minutes=61), True),
        (END - timedelta(minutes=59), False),  # upstream rolled over a little early
        (END + timedelta(seconds=1), False),  # the final sync after the rollover
    ],
)
def test_a_rollover_at_the_end_keeps_the_standings(at: datetime, accepted: bool) -> None:
    before = compute(race(), PLAYERS, ())
    after = compute(race(), [p("a", monthly=1)], before)
    assert accept_snapshot(race(), at, before, after) is accepted
    assert accept_snapshot(race(RaceKind.CUSTOM), at, before, after)  # all_time never rolls over


def test_changed_rows_writes_only_what_moved() -> None:
    before = compute(race(), PLAYERS, ())
    after = compute(race(), [p("a", monthly=500), p("c", monthly=700), p("g", monthly=1)], before)
    write, gone = changed_rows(before, after)
    assert {r.uid for r in write} == {"a", "c", "g"}  # prev_position set for a and c now
    assert gone == ["b"]
    same = [p("a", monthly=500), p("c", monthly=700), p("g", monthly=1)]
    again = compute(race(), same, after)
    assert [r.uid for r in changed_rows(after, again)[0]] == ["g"]  # its previous position is known now
    assert changed_rows(again, compute(race(), same, again)) == ([], [])
