"""Ranking: turn one upstream snapshot into a ranked board per period."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from itertools import compress
from operator import attrgetter, or_

from server.leaderboard.board import Board, Period, Player, Row

__all__ = ["rank", "rank_all"]

_uid = attrgetter("uid")
_name = attrgetter("name")
# float.__lt__ accepts ints too and is False for NaN, so neither zero nor NaN ever ranks;
# as a bound C method it keeps the filter loop out of the interpreter.
_positive = (0.0).__lt__


def rank(players: Iterable[Player], period: Period) -> Board:
    """The board of one period: players with an amount above zero, ordered by `sort_key`."""
    return _rank(players, (period,))[period]


def rank_all(players: Sequence[Player]) -> dict[Period, Board]:
    """The boards of every period from one snapshot."""
    return _rank(players, tuple(Period))


def _rank(players: Iterable[Player], periods: tuple[Period, ...]) -> dict[Period, Board]:
    # At 100k players this is memory-bound: the objects sit in upstream order and every
    # pass in another order misses the cache. So: plain lists of positions, C-level passes
    # (map, compress, list.sort with a bound-method key) and one Row-building loop.
    # Most referrals never wagered, so only players positive in some period get sorted,
    # by uid, once for all periods. Sorting those positions by amount, descending, then
    # gives exactly `sort_key` order, because list.sort is stable (also with reverse=True).
    players = players if isinstance(players, list) else list(players)
    amounts = {p: list(map(attrgetter(p.value), players)) for p in periods}
    positive = {p: list(map(_positive, amounts[p])) for p in periods}
    masks = iter(positive.values())
    anywhere = next(masks)
    for mask in masks:
        anywhere = list(map(or_, anywhere, mask))
    uids = list(map(_uid, players))
    names = list(map(_name, players))
    by_uid = sorted(compress(range(len(players)), anywhere), key=uids.__getitem__)

    boards: dict[Period, Board] = {}
    for period in periods:
        amount = amounts[period]
        order = list(compress(by_uid, map(positive[period].__getitem__, by_uid)))
        order.sort(key=amount.__getitem__, reverse=True)
        rows = tuple([Row(r, uids[i], names[i], amount[i]) for r, i in enumerate(order, 1)])
        boards[period] = Board(period, rows)
    return boards
