"""Ranking: turn one upstream snapshot into a ranked board per period."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from itertools import compress
from operator import attrgetter

from server.leaderboard.board import Board, Period, Player, Row

__all__ = ["rank", "rank_all"]

_uid = attrgetter("uid")
# float.__lt__ accepts ints too and is False for NaN, so neither zero nor NaN ever ranks;
# as a bound C method it keeps the filter loop out of the interpreter.
_positive = (0.0).__lt__


def rank(players: Iterable[Player], period: Period) -> Board:
    """The board of one period: players with an amount above zero, ordered by `sort_key`."""
    # At 100k players this is memory-bound: the objects sit in upstream order and each
    # pass in another order misses the cache. So filter first, in upstream order (most
    # referrals never wagered), then two C-level sorts: by uid, then by amount descending.
    # list.sort is stable, also with reverse=True, so that is exactly `sort_key` order.
    if not isinstance(players, Sequence):
        players = list(players)  # it is walked twice below
    amount = attrgetter(period.value)
    ranked = list(compress(players, map(_positive, map(amount, players))))
    ranked.sort(key=_uid)
    ranked.sort(key=amount, reverse=True)
    rows = tuple([Row(r, p.uid, p.name, amount(p)) for r, p in enumerate(ranked, 1)])
    return Board(period, rows)


def rank_all(players: Sequence[Player]) -> dict[Period, Board]:
    """The boards of every period from one snapshot."""
    return {period: rank(players, period) for period in Period}
