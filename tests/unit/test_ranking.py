import random

from hypothesis import given, settings
from hypothesis import strategies as st

from server.leaderboard.board import Board, Period, Player, Row, sort_key
from server.leaderboard.ranking import rank, rank_all


def player(
    uid: str,
    today: float = 0,
    weekly: float = 0,
    monthly: float = 0,
    all_time: float = 0,
    name: str | None = None,
) -> Player:
    return Player(uid, name or f"name-{uid}", today, weekly, monthly, all_time)


def test_best_first_with_ranks_from_one() -> None:
    board = rank(
        [player("a", today=5), player("b", today=50), player("c", today=0.5)], Period.TODAY
    )
    assert board == Board(
        Period.TODAY,
        (
            Row(1, "b", "name-b", 50),
            Row(2, "a", "name-a", 5),
            Row(3, "c", "name-c", 0.5),
        ),
    )


def test_equal_amounts_are_ordered_by_uid_whatever_the_upstream_order() -> None:
    players = [player(uid, today=100) for uid in ("m", "b", "z", "a")] + [player("x", today=101)]
    expected = ["x", "a", "b", "m", "z"]
    for seed in range(5):  # the upstream sends entries in no particular order
        random.Random(seed).shuffle(players)
        assert [row.uid for row in rank(players, Period.TODAY).rows] == expected


def test_zero_and_missing_amounts_are_not_on_the_board() -> None:
    players = [
        player("a", today=0),
        player("b", today=0.0),
        player("c", today=-0.0),
        player("d", today=0.001),
        player("e", today=float("nan")),
    ]
    assert [(r.uid, r.rank) for r in rank(players, Period.TODAY).rows] == [("d", 1)]


def test_full_precision_is_kept() -> None:
    amount = 1234.5678901234567
    players = [player("a", all_time=amount), player("b", all_time=1234.5678901234566)]
    board = rank(players, Period.ALL_TIME)
    assert [(r.uid, r.amount) for r in board.rows] == [("a", amount), ("b", 1234.5678901234566)]


def test_each_period_ranks_its_own_field_even_when_inconsistent() -> None:
    # Seen upstream: a shorter period larger than a longer one.
    players = [
        player("a", today=9, weekly=1, monthly=0, all_time=3),
        player("b", today=1, weekly=2, monthly=0, all_time=3),
    ]
    boards = rank_all(players)
    assert set(boards) == set(Period)
    assert [r.uid for r in boards[Period.TODAY].rows] == ["a", "b"]
    assert [r.uid for r in boards[Period.WEEKLY].rows] == ["b", "a"]
    assert boards[Period.MONTHLY] == Board(Period.MONTHLY)
    assert [r.uid for r in boards[Period.ALL_TIME].rows] == ["a", "b"]
    assert all(board.period is period for period, board in boards.items())


def test_no_players() -> None:
    assert rank([], Period.WEEKLY) == Board(Period.WEEKLY)
    assert rank_all([]) == {period: Board(period) for period in Period}


def test_any_iterable_of_players() -> None:
    players = [player("a", today=1), player("b", today=2)]
    assert rank(iter(players), Period.TODAY) == rank(players, Period.TODAY)
    assert rank(tuple(players), Period.TODAY) == rank(players, Period.TODAY)


amounts = st.one_of(
    st.sampled_from([0, 0.0, 0.001, 1, 5, 5.0, 10, 12.345678901234]),  # ties and zeros
    st.floats(min_value=0, max_value=1e9, allow_nan=False),
)
snapshots = st.dictionaries(
    st.text("abcdef", min_size=1, max_size=3),
    st.tuples(st.sampled_from(["x", "y"]), amounts, amounts, amounts, amounts),
    max_size=40,
).map(lambda entries: [Player(uid, name, *rest) for uid, (name, *rest) in entries.items()])


@settings(max_examples=250, deadline=None)
@given(snapshots, st.randoms(use_true_random=False))
def test_matches_the_reference_ordering_in_any_input_order(
    players: list[Player], rnd: random.Random
) -> None:
    boards = rank_all(players)
    shuffled = players[:]
    rnd.shuffle(shuffled)
    assert rank_all(shuffled) == boards
    for period, board in boards.items():
        expected = sorted(
            (p for p in players if p.amount(period) > 0),
            key=lambda p: sort_key(p.uid, p.amount(period)),
        )
        assert board == Board(
            period,
            tuple(Row(i, p.uid, p.name, p.amount(period)) for i, p in enumerate(expected, 1)),
        )
        assert rank(players, period) == board
