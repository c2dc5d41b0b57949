"""Ranking: turn one upstream snapshot into a ranked board per period."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from itertools import compress
from operator import attrgetter

from server.leaderboard.board import Board, Period, Player, Row

__all__ = ["rank", "rank_all"]

_uid = attrgetter("uid")
_name = attrgetter("name")
# float.__lt__ accepts ints too and is False for NaN, so neither zero nor NaN ever ranks;
# as a bound C method it keeps the filter loop out of the interpreter.
_positive = (0.0).__lt__


def rank(players: Iterable[Player], period: Period) -> Board:
    """The board of one period: players with an amount above zero, ordered by `sort_key`."""
    return _Snapshot(players).board(period)


def rank_all(players: Sequence[Player]) -> dict[Period, Board]:
    """The boards of every period from one snapshot."""
    snapshot = _Snapshot(players)
    return {period: snapshot.board(period) for period in Period}


class _Snapshot:
    """Columns of one snapshot plus its uid order, shared by the boards of all periods.

    Ranking is memory-bound at 100k players: the objects sit in upstream order, so every
    pass in another order misses the cache. Hence plain lists of positions, C-level passes
    (map, compress, list.sort with a bound-method key) and a single Row-building loop.
    Sorting positions that are already in uid order by amount, descending, gives exactly
    `sort_key` order: list.sort is stable, also with reverse=True.
    """

    __slots__ = ("players", "uids", "names", "by_uid")

    def __init__(self, players: Iterable[Player]) -> None:
        self.players = players if isinstance(players, list) else list(players)
        self.uids = list(map(_uid, self.players))
        self.names = list(map(_name, self.players))
        self.by_uid = sorted(range(len(self.uids)), key=self.uids.__getitem__)

    def board(self, period: Period) -> Board:
        amounts = list(map(attrgetter(period.value), self.players))
        positive = list(map(_positive, amounts))
        order = list(compress(self.by_uid, map(positive.__getitem__, self.by_uid)))
        order.sort(key=amounts.__getitem__, reverse=True)
        uids, names = self.uids, self.names
        rows = tuple([Row(r, uids[i], names[i], amounts[i]) for r, i in enumerate(order, 1)])
        return Board(period, rows)
