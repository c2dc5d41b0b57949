"""Tied race amounts (a shared position, the covered places' prizes split equally, cents
rounded down), and the canonical form of a final result: each case with its values worked
out by hand."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

import pytest

from server.races.canonical import final_json, percent_text, sha256_hex, utc_text
from server.races.model import Race, RaceKind, RaceStatus, prizes_cents
from server.races.standings import Standing, amount_cents, rank_standings, winners
from server.races.standings_csv import standings_csv

# (case, amounts {uid: USD}, pool cents, split %, min wager,
#  expected [(uid, position, tied, prize cents)] in standings order, cents left unpaid)
CASES = [
    (
        "no tie",
        {"a": 300, "b": 200, "c": 100, "d": 50},
        10_000, (50, 30, 20), 0,
        [("a", 1, 1, 5000), ("b", 2, 1, 3000), ("c", 3, 1, 2000), ("d", 4, 1, 0)],
        0,
    ),
    (
        "2-way tie at 1st: places 1 and 2 shared, (5000 + 3000) / 2",
        {"a": 300, "b": 300, "c": 100},
        10_000, (50, 30, 20), 0,
        [("a", 1, 2, 4000), ("b", 1, 2, 4000), ("c", 3, 1, 2000)],
        0,
    ),
    (
        "3-way tie across paid and unpaid places: places 2-4, (3000 + 2000 + 0) / 3 = 1666 r 2",
        {"a": 500, "b": 100, "c": 100, "d": 100, "e": 50},
        10_000, (50, 30, 20), 0,
        [("a", 1, 1, 5000), ("b", 2, 3, 1666), ("c", 2, 3, 1666), ("d", 2, 3, 1666), ("e", 5, 1, 0)],
        2,
    ),
    (
        "tie at the last paid place: places 3 and 4, 2000 / 2",
        {"a": 500, "b": 400, "c": 100, "d": 100},
        10_000, (50, 30, 20), 0,
        [("a", 1, 1, 5000), ("b", 2, 1, 3000), ("c", 3, 2, 1000), ("d", 3, 2, 1000)],
        0,
    ),
    (
        "all tied: places 1-4 share the whole 10000",
        {"d": 100, "c": 100, "b": 100, "a": 100},
        10_000, (50, 30, 20), 0,
        [("a", 1, 4, 2500), ("b", 1, 4, 2500), ("c", 1, 4, 2500), ("d", 1, 4, 2500)],
        0,
    ),
    (
        "all tied, more players than paid places: 10000 / 6 = 1666 r 4",
        {u: 7.5 for u in "abcdef"},
        10_000, (50, 30, 20), 0,
        [(u, 1, 6, 1666) for u in "abcdef"],
        4,
    ),
    (
        "pool not divisible: 3-way tie at 1st, (4000 + 3500 + 2500) / 3 = 3333 r 1",
        {"a": 10, "b": 10, "c": 10, "d": 1},
        10_000, (40, 35, 25), 0,
        [("a", 1, 3, 3333), ("b", 1, 3, 3333), ("c", 1, 3, 3333), ("d", 4, 1, 0)],
        1,
    ),
    (
        "a tiny pool: prizes 5, 3, 2 cents; 2-way tie at 2nd, 5 / 2 = 2 r 1",
        {"a": 3, "b": 2, "c": 2},
        10, (50, 30, 20), 0,
        [("a", 1, 1, 5), ("b", 2, 2, 2), ("c", 2, 2, 2)],
        1,
    ),
    (
        "a share worth less than a cent each: 2 cents among 3 is 0 each, 2 unpaid",
        {"a": 9, "b": 1, "c": 1, "d": 1},
        10, (80, 20), 0,
        [("a", 1, 1, 8), ("b", 2, 3, 0), ("c", 2, 3, 0), ("d", 2, 3, 0)],
        2,
    ),
    (
        "a tie below the paid places wins nothing",
        {"a": 3, "b": 2, "c": 1, "d": 0.5, "e": 0.5},
        10_000, (50, 30, 20), 0,
        [("a", 1, 1, 5000), ("b", 2, 1, 3000), ("c", 3, 1, 2000), ("d", 4, 2, 0), ("e", 4, 2, 0)],
        0,
    ),
    (
        "min wager 100: a tie on the minimum qualifies (places 1-2 shared), the rest do not",
        {"a": 100, "b": 100, "c": 99.99, "d": 99.99},
        10_000, (50, 30, 20), 100,
        [("a", 1, 2, 4000), ("b", 1, 2, 4000), ("c", 3, 2, 0), ("d", 3, 2, 0)],
        2000,  # place 3's prize: no one qualified for it
    ),
    (
        "min wager: a tie under it shares a position but not a prize",
        {"a": 250, "b": 20, "c": 20},
        10_000, (50, 30, 20), 50,
        [("a", 1, 1, 5000), ("b", 2, 2, 0), ("c", 2, 2, 0)],
        5000,
    ),
    (
        "equal at cent precision: 100.004 and 99.996 both show $100.00; 99.994 is $99.99",
        {"a": 99.996, "b": 100.004, "c": 99.994},
        10_000, (50, 30, 20), 0,
        [("a", 1, 2, 4000), ("b", 1, 2, 4000), ("c", 3, 1, 2000)],
        0,
    ),
    (
        "half a cent rounds up (as shown): 0.125 is 13 cents, tied with 0.13; 0.124 is 12",
        {"a": 0.125, "b": 0.13, "c": 0.124},
        1_000, (60, 40), 0,
        [("a", 1, 2, 500), ("b", 1, 2, 500), ("c", 3, 1, 0)],
        0,
    ),
    (
        "min wager compared in cents too: 99.996 is $100.00, so it qualifies for 100",
        {"a": 99.996, "b": 99.994},
        10_000, (60, 40), 100,
        [("a", 1, 1, 6000), ("b", 2, 1, 0)],
        4000,
    ),
]


@pytest.mark.parametrize(("amounts", "pool", "split", "min_wager", "expected", "unpaid"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_ties_share_a_position_and_split_the_prizes_of_the_places_they_cover(
    amounts: dict[str, float], pool: int, split: tuple[float, ...], min_wager: float,
    expected: list[tuple[str, int, int, int]], unpaid: int,
) -> None:
    prizes = prizes_cents(pool, split)
    rows = rank_standings([(uid, uid.upper(), float(v)) for uid, v in amounts.items()], {}, min_wager=min_wager, prizes=prizes)
    assert [(r.uid, r.position, r.tied, r.prize_cents) for r in rows] == expected
    assert sum(prizes) - sum(r.prize_cents for r in rows) == unpaid
    assert [w.uid for w in winners(rows)] == [r.uid for r in rows if r.prize_cents > 0]


def test_tied_rows_have_no_gap_and_the_next_row_measures_from_the_row_above() -> None:
    rows = rank_standings([("a", "A", 300.0), ("b", "B", 300.0), ("c", "C", 120.5)], {}, min_wager=0, prizes=(100, 50))
    assert [r.gap for r in rows] == [None, 0, 179.5]


def test_the_order_of_the_input_does_not_matter() -> None:
    amounts = [("u3", "C", 5.0), ("u1", "A", 5.0), ("u2", "B", 9.0), ("u4", "D", 5.004)]
    forward = rank_standings(amounts, {}, min_wager=0, prizes=(700, 300))
    backward = rank_standings(list(reversed(amounts)), {}, min_wager=0, prizes=(700, 300))
    assert forward == backward
    assert [(r.uid, r.position, r.prize_cents) for r in forward] == [("u2", 1, 700), ("u1", 2, 100), ("u3", 2, 100), ("u4", 2, 100)]


@pytest.mark.parametrize(
    ("amount", "cents"),
    [(0.0, 0), (1e-7, 0), (0.005, 1), (0.125, 13), (2.675, 268), (1.005, 101), (1234.565, 123457),
     (99.994999, 9999), (10.913, 1091), (123456789012.345, 12345678901235), (1e15, 100_000_000_000_000_000)],
)
def test_amount_cents_rounds_the_printed_decimal_half_up(amount: float, cents: int) -> None:
    assert amount_cents(amount) == cents


# ---- the canonical form --------------------------------------------------------------


def final_race(**changes: object) -> Race:
    values: dict[str, object] = {
        "id": 42, "version": 9, "title": 'Friday "sprint" ✨', "kind": RaceKind.CUSTOM, "status": RaceStatus.ENDED,
        "starts_at": datetime(2026, 11, 20, 18, 0, tzinfo=UTC), "ends_at": datetime(2026, 11, 20, 20, 0, 0, 750_000, tzinfo=UTC),
        "pool_cents": 10_000, "split": (50.0, 33.3, 16.7), "min_wager": 10.0,
    }
    values.update(changes)
    return Race(**values)  # type: ignore[arg-type]


def final_rows(amounts: list[tuple[str, str, float]], race: Race | None = None) -> tuple[Standing, ...]:
    race = race or final_race()
    return rank_standings(amounts, {}, min_wager=race.min_wager, prizes=race.prizes_cents)


AMOUNTS = [("u1", "Zoë", 1500.25), ("u2", "=HYPERLINK(\"x\")", 1500.25), ("u3", "low", 9.99), ("u4", "Bob", 900.0)]


def test_the_canonical_bytes_are_exactly_the_documented_form() -> None:
    data = final_json(final_race(), final_rows(AMOUNTS))
    expected = (
        '{"ends_at":"2026-11-20T20:00:00Z","format":"goated-race-final/1","kind":"custom","min_wager_cents":1000,'
        '"pool_cents":10000,"prizes_cents":[5000,3330,1670],"race_id":42,"split_percent":["50","33.3","16.7"],'
        '"standings":['
        '{"amount_cents":150025,"name":"Zoë","position":1,"prize_cents":4165,"uid":"u1"},'
        '{"amount_cents":150025,"name":"=HYPERLINK(\\"x\\")","position":1,"prize_cents":4165,"uid":"u2"},'
        '{"amount_cents":90000,"name":"Bob","position":3,"prize_cents":1670,"uid":"u4"},'
        '{"amount_cents":999,"name":"low","position":4,"prize_cents":0,"uid":"u3"}],'
        '"starts_at":"2026-11-20T18:00:00Z","title":"Friday \\"sprint\\" ✨"}'
    ).encode()
    assert data == expected
    assert "Zoë".encode() in data and b"\\u" not in data  # UTF-8 as is, not escaped
    assert sha256_hex(data) == hashlib.sha256(expected).hexdigest()


def test_the_same_result_gives_the_same_bytes_and_any_change_a_different_hash() -> None:
    race = final_race()
    base = final_json(race, final_rows(AMOUNTS))
    assert final_json(race, final_rows(list(reversed(AMOUNTS)))) == base
    assert final_json(final_race(version=12, status=RaceStatus.ENDED), final_rows(AMOUNTS)) == base  # version is not part of it
    # What the pages show is what is hashed: a change below a cent is no change.
    assert final_json(race, final_rows([(u, n, a + 0.001 if u == "u4" else a) for u, n, a in AMOUNTS])) == base
    changed = [
        final_json(race, final_rows([(u, n, a + 0.01 if u == "u4" else a) for u, n, a in AMOUNTS])),  # one cent more
        final_json(race, final_rows([(u, "Bobby" if u == "u4" else n, a) for u, n, a in AMOUNTS])),  # a name
        final_json(race, final_rows(AMOUNTS[:-1])),  # a row fewer
        final_json(final_race(pool_cents=10_001), final_rows(AMOUNTS)),  # the pool
        final_json(final_race(title="Friday sprint"), final_rows(AMOUNTS)),
        final_json(final_race(id=43), final_rows(AMOUNTS)),
    ]
    hashes = {sha256_hex(base), *(sha256_hex(c) for c in changed)}
    assert len(hashes) == 1 + len(changed)


def test_times_and_shares_have_one_spelling() -> None:
    assert utc_text(datetime(2026, 12, 1, 1, 2, 3, 999_999, tzinfo=UTC)) == "2026-12-01T01:02:03Z"
    from datetime import timedelta, timezone

    assert utc_text(datetime(2026, 12, 1, 3, 0, tzinfo=timezone(timedelta(hours=2)))) == "2026-12-01T01:00:00Z"
    assert [percent_text(s) for s in (50.0, 33.3, 12.5, 0.00001, 100.0, 7.25)] == ["50", "33.3", "12.5", "0.00001", "100", "7.25"]


# ---- the CSV ----------------------------------------------------------------------------


def test_the_csv_lists_the_standings_and_defuses_formulas() -> None:
    rows = final_rows(AMOUNTS + [("u5", "+1", 1.0), ("u6", "@SUM(A1)", 1.0), ("-u7", "-2", 0.5), ("u8", "a=b", 0.25)])
    assert standings_csv(rows) == (
        "position,uid,name,amount_usd,prize_usd\r\n"
        "1,u1,Zoë,1500.25,41.65\r\n"
        "1,u2,\"'=HYPERLINK(\"\"x\"\")\",1500.25,41.65\r\n"
        "3,u4,Bob,900.00,16.70\r\n"
        "4,u3,low,9.99,0.00\r\n"
        "5,u5,'+1,1.00,0.00\r\n"
        "5,u6,'@SUM(A1),1.00,0.00\r\n"
        "7,'-u7,'-2,0.50,0.00\r\n"
        "8,u8,a=b,0.25,0.00\r\n"
    )
