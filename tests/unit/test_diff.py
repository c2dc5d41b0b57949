import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from server.leaderboard.board import Board, Change, ChangeKind, Delta, Overtake, Period, Player
from server.leaderboard.diff import apply, diff, is_reset
from server.leaderboard.ranking import rank

Entry = tuple[str, float] | tuple[str, float, str]


def board(*entries: Entry, period: Period = Period.TODAY) -> Board:
    """A board ranked the real way from (uid, amount[, name]) entries of one period."""
    players = []
    for uid, amount, *name in entries:
        amounts = {p.value: 0.0 for p in Period} | {period.value: amount}
        players.append(Player(uid=uid, name=name[0] if name else uid.upper(), **amounts))
    return rank(players, period)


def grown(old: Board, **amounts: float) -> Board:
    """`old` after some players' amounts changed (0 takes them off the board)."""
    entries = {row.uid: row.amount for row in old.rows} | amounts
    return board(*entries.items(), period=old.period)


FIVE = board(("a", 500), ("b", 400), ("c", 300), ("d", 200), ("x", 100))


def check(old: Board, new: Board, **options: object) -> Delta:
    delta = diff(old, new, **options)  # type: ignore[arg-type]
    assert apply(old, delta) == new
    return delta


def test_nothing_changed() -> None:
    delta = check(FIVE, grown(FIVE))
    assert delta == Delta(Period.TODAY)
    assert delta.empty


def test_entered() -> None:
    delta = check(FIVE, grown(FIVE, n=50))
    assert delta.changes == (Change(ChangeKind.ENTERED, "n", "N", 6, 50),)
    assert delta.changes[0].prev_rank is None and delta.changes[0].prev_amount == 0
    assert (delta.left, delta.overtakes, delta.shifted) == ((), (), 0)


def test_wagered_without_moving() -> None:
    delta = check(FIVE, grown(FIVE, c=350))
    assert delta.changes == (Change(ChangeKind.WAGERED, "c", "C", 3, 350, 3, 300),)
    assert (delta.overtakes, delta.shifted) == ((), 0)


def test_x_passed_c_and_d_for_third() -> None:
    delta = check(FIVE, grown(FIVE, x=350))
    assert delta.changes == (Change(ChangeKind.MOVED, "x", "X", 3, 350, 5, 100),)
    # Only x's own data changed: c and d moved down because of it.
    assert delta.shifted == 2
    assert delta.overtakes == (Overtake("x", "c", 3), Overtake("x", "d", 3))


def test_renamed() -> None:
    old = board(("a", 10, "alice"), ("b", 5, "bob"))
    delta = check(old, board(("a", 10, "alice-2"), ("b", 5, "bob")))
    assert delta.changes == (Change(ChangeKind.RENAMED, "a", "alice-2", 1, 10, 1, 10),)


def test_renamed_while_wagering_is_classified_by_the_amount_and_carries_the_new_name() -> None:
    old = board(("a", 10, "alice"), ("b", 5, "bob"))
    delta = check(old, board(("a", 10, "alice"), ("b", 20, "bobby")))
    assert delta.changes == (Change(ChangeKind.MOVED, "b", "bobby", 1, 20, 2, 5),)
    delta = check(old, board(("a", 10, "alice"), ("b", 6, "bobby")))
    assert delta.changes == (Change(ChangeKind.WAGERED, "b", "bobby", 2, 6, 2, 5),)


def test_left_is_sorted_and_shifts_the_rest() -> None:
    # Not a rollover: two of five leaving (an inconsistent upstream entry, say).
    delta = check(FIVE, grown(FIVE, b=0, a=0))
    assert delta.left == ("a", "b")
    assert (delta.reset, delta.changes, delta.overtakes) == (False, (), ())
    assert delta.shifted == 3


def test_ties_are_broken_by_uid_and_stay_put_across_syncs() -> None:
    old = board(("b", 50), ("a", 40), ("c", 50))
    assert [row.uid for row in old.rows] == ["b", "c", "a"]
    assert check(old, board(("c", 50), ("a", 40), ("b", 50))).empty
    # Reaching an equal amount is enough to pass a player with a larger uid.
    delta = check(old, grown(old, a=50))
    assert delta.changes == (Change(ChangeKind.MOVED, "a", "A", 1, 50, 3, 40),)
    assert delta.overtakes == (Overtake("a", "b", 1), Overtake("a", "c", 1))


def test_passed_players_are_those_ahead_before_and_behind_now_nearest_first() -> None:
    old = board(*((f"p{i:02}", 1000 - i) for i in range(20)), ("m", 1))
    new = grown(old, m=995.5, p01=2000)  # p01 climbs too: m does not pass it
    delta = check(old, new, overtake_cap=3)
    assert delta.overtakes == (
        Overtake("p01", "p00", 1),
        Overtake("m", "p05", 6),
        Overtake("m", "p06", 6),
        Overtake("m", "p07", 6),
    )
    assert len(check(old, new, overtake_cap=100).overtakes) == 1 + 15
    assert check(old, new, overtake_cap=0).overtakes == ()
    # Beyond overtake_top nothing is listed; the rows are still changes.
    delta = check(old, new, overtake_top=5)
    assert delta.overtakes == (Overtake("p01", "p00", 1),)
    assert [c.uid for c in delta.changes] == ["p01", "m"]


def test_an_entered_player_passes_everyone_now_behind() -> None:
    delta = check(FIVE, grown(FIVE, n=450), overtake_cap=10)
    assert delta.changes == (Change(ChangeKind.ENTERED, "n", "N", 2, 450),)
    assert [o.passed for o in delta.overtakes] == ["b", "c", "d", "x"]
    assert delta.shifted == 4


def test_moving_down_or_staying_passes_nobody() -> None:
    delta = check(FIVE, grown(FIVE, a=401, b=402))
    assert delta.overtakes == (Overtake("b", "a", 1),)
    assert {c.uid: c.kind for c in delta.changes} == {"a": ChangeKind.MOVED, "b": ChangeKind.MOVED}


ROLLED_OVER = board(("d", 3), ("q", 0.5))  # the first bets of the new day


def test_a_rollover_is_one_reset_delta() -> None:
    old = board(*((f"p{i:03}", 10 + i) for i in range(300)))
    new = board(("p007", 3), ("p123", 0.5), ("zz", 1))
    assert is_reset(old, new, rollover=True)
    delta = check(old, new, rollover=True)
    assert delta == Delta(
        Period.TODAY,
        reset=True,
        changes=(
            Change(ChangeKind.ENTERED, "p007", "P007", 1, 3),
            Change(ChangeKind.ENTERED, "zz", "ZZ", 2, 1),
            Change(ChangeKind.ENTERED, "p123", "P123", 3, 0.5),
        ),
    )


def test_a_rollover_to_an_empty_board() -> None:
    delta = check(FIVE, Board(Period.TODAY), rollover=True)
    assert delta == Delta(Period.TODAY, reset=True)
    assert not delta.empty


def test_a_drop_without_a_boundary_is_never_a_reset() -> None:
    """Whatever the data, no boundary between the snapshots means no reset: a correction."""
    for new in (Board(Period.TODAY), ROLLED_OVER, grown(FIVE, a=0, b=0, c=0, d=0)):
        assert not is_reset(FIVE, new, rollover=False)
        delta = check(FIVE, new)
        assert not delta.reset
        assert set(delta.left) == {row.uid for row in FIVE.rows} - {row.uid for row in new.rows}


def test_a_refund_on_a_board_of_two_is_a_move() -> None:
    """The issue's case: 50 and 10 become 60 and 9 (a dollar refunded), late in a month."""
    old = board(("a", 50), ("b", 10), period=Period.MONTHLY)
    new = board(("a", 60), ("b", 9), period=Period.MONTHLY)
    for rollover in (False, True):  # not even next to a boundary does a refund look like a reset
        delta = check(old, new, rollover=rollover)
        assert not delta.reset
        assert delta.changes == (
            Change(ChangeKind.WAGERED, "a", "A", 1, 60, 1, 50),
            Change(ChangeKind.WAGERED, "b", "B", 2, 9, 2, 10),
        )


def test_a_single_inconsistent_decrease_is_not_a_reset() -> None:
    new = grown(FIVE, c=150)
    assert not is_reset(FIVE, new, rollover=True)
    delta = check(FIVE, new, rollover=True)
    assert not delta.reset
    assert delta.changes == (Change(ChangeKind.MOVED, "c", "C", 4, 150, 3, 300),)


def test_reset_needs_half_the_rows_and_half_the_total_to_drop() -> None:
    assert not is_reset(FIVE, grown(FIVE, a=0, b=0), rollover=True)  # 2 of 5 rows
    assert is_reset(FIVE, grown(FIVE, a=0, b=0, c=299), rollover=True)  # 3 of 5, total 1500 -> 599
    assert not is_reset(FIVE, grown(FIVE, b=399, c=299, d=199), rollover=True)  # 3 of 5, total 1497
    four = board(("a", 4), ("b", 3), ("c", 2), ("d", 1))
    assert is_reset(four, grown(four, a=0, b=0.5), rollover=True)  # 2 of 4, total 10 -> 3.5
    assert not is_reset(four, grown(four, a=0, b=2.5), rollover=True)  # 2 of 4, total 10 -> 5.5
    assert not is_reset(four, grown(four, a=0), rollover=True)  # 1 of 4


def test_empty_boards() -> None:
    empty = Board(Period.TODAY)
    assert check(empty, empty) == Delta(Period.TODAY)
    assert not is_reset(empty, FIVE, rollover=True) and not is_reset(empty, empty, rollover=True)
    delta = check(empty, FIVE)
    assert not delta.reset
    assert [(c.kind, c.rank) for c in delta.changes] == [
        (ChangeKind.ENTERED, r) for r in range(1, 6)
    ]
    assert delta.overtakes == ()


def test_boards_of_different_periods_do_not_mix() -> None:
    weekly = board(("a", 1), period=Period.WEEKLY)
    with pytest.raises(ValueError):
        diff(FIVE, weekly)
    with pytest.raises(ValueError):
        apply(FIVE, diff(weekly, weekly))


# --- properties ------------------------------------------------------------------------

UIDS = [f"u{i:02}" for i in range(14)]
AMOUNTS = st.one_of(
    st.sampled_from([0.0, 0.001, 1.0, 5.0, 10.0, 10.5, 100.0]),  # zeros and ties
    st.floats(min_value=0, max_value=1e6, allow_nan=False, allow_infinity=False),
)
NAMES = st.sampled_from(["ann", "bob", "cy"])


@st.composite
def sync_pairs(draw: st.DrawFn) -> tuple[Board, Board]:
    """Two consecutive boards: players wager, rename, appear, vanish, or the period rolls."""
    old = draw(st.dictionaries(st.sampled_from(UIDS), st.tuples(NAMES, AMOUNTS), max_size=12))
    rollover = draw(st.booleans()) and draw(st.booleans())
    new: dict[str, tuple[str, float]] = {}
    for uid in UIDS:
        name, amount = old.get(uid, (draw(NAMES), 0.0))
        step = draw(st.sampled_from(["same", "same", "grow", "grow", "rename", "zero", "shrink"]))
        if rollover:
            amount = draw(st.sampled_from([0.0, 0.0, 0.0, 1.0, 2.5]))
        elif step == "grow":
            amount += draw(st.sampled_from([0.5, 1.0, 5.0, 90.0]) | AMOUNTS)
        elif step == "rename":
            name = draw(NAMES)
        elif step == "zero":
            amount = 0.0
        elif step == "shrink":  # the upstream is not always consistent
            amount = draw(st.floats(min_value=0, max_value=amount))
        new[uid] = (name, amount)
    return to_board(old), to_board(new)


def to_board(entries: dict[str, tuple[str, float]]) -> Board:
    return board(*((uid, amount, name) for uid, (name, amount) in entries.items()))


def reference_overtakes(old: Board, new: Board, delta: Delta, top: int, cap: int) -> list[Overtake]:
    old_rank = {row.uid: row.rank for row in old.rows}
    expected = []
    for change in delta.changes:
        before = old_rank.get(change.uid, len(old.rows) + 1)
        if change.rank <= top and change.rank < before:
            passed = [
                row.uid for row in new.rows[change.rank :] if old_rank.get(row.uid, before) < before
            ]
            expected += [Overtake(change.uid, uid, change.rank) for uid in passed[:cap]]
    return expected


@settings(max_examples=300, deadline=None)
@given(sync_pairs(), st.integers(1, 15), st.integers(0, 4))
def test_apply_of_diff_rebuilds_the_new_board(
    pair: tuple[Board, Board], top: int, cap: int
) -> None:
    old, new = pair
    delta = diff(old, new, overtake_top=top, overtake_cap=cap)
    assert apply(old, delta) == new
    # What goes over the wire applies just as well.
    wire = msgspec.json.decode(msgspec.json.encode(delta), type=Delta)
    assert wire == delta and apply(old, wire) == new


@settings(max_examples=300, deadline=None)
@given(sync_pairs(), st.integers(1, 15), st.integers(0, 4))
def test_changes_describe_the_new_board(pair: tuple[Board, Board], top: int, cap: int) -> None:
    old, new = pair
    delta = diff(old, new, rollover=True, overtake_top=top, overtake_cap=cap)
    assert delta.reset == is_reset(old, new, rollover=True)
    assert apply(old, delta) == new
    old_rows = {row.uid: row for row in old.rows}
    new_rows = {row.uid: row for row in new.rows}
    assert [c.rank for c in delta.changes] == sorted(c.rank for c in delta.changes)
    for change in delta.changes:
        row = new_rows[change.uid]
        assert (change.rank, change.name, change.amount) == (row.rank, row.name, row.amount)

    if delta.reset:
        assert [c.uid for c in delta.changes] == [row.uid for row in new.rows]
        assert all(c.kind is ChangeKind.ENTERED and c.prev_rank is None for c in delta.changes)
        assert (delta.left, delta.overtakes, delta.shifted) == ((), (), 0)
        return

    listed = {c.uid: c for c in delta.changes}
    for uid, row in new_rows.items():
        prev = old_rows.get(uid)
        if prev is None:
            expected = ChangeKind.ENTERED
        elif prev.amount != row.amount:
            expected = ChangeKind.WAGERED if prev.rank == row.rank else ChangeKind.MOVED
        elif prev.name != row.name:
            expected = ChangeKind.RENAMED
        else:
            assert uid not in listed
            continue
        assert listed[uid].kind is expected
        if prev is not None:
            assert (listed[uid].prev_rank, listed[uid].prev_amount) == (prev.rank, prev.amount)
    assert delta.shifted == sum(
        1 for uid, row in new_rows.items() if uid not in listed and old_rows[uid].rank != row.rank
    )
    assert delta.left == tuple(sorted(old_rows.keys() - new_rows.keys()))
    assert list(delta.overtakes) == reference_overtakes(old, new, delta, top, cap)
