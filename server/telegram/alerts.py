"""Whose place changed in a sync, for the players whose linked Telegram users want alerts (pure)."""

from __future__ import annotations

from collections.abc import Collection, Mapping

from server.leaderboard.board import Board, Delta
from server.leaderboard.diff import apply
from server.leaderboard.messages import DeltaMsg
from server.telegram.formatting import Move


def moves(old: Board, delta: DeltaMsg, watched: Collection[str], names: Mapping[str, str]) -> dict[str, Move]:
    """For each watched uid whose rank changed or who was passed: how.

    Ranks come from the board before and after the delta, so a player who only slid down
    because someone else climbed past them is seen too. A reset (new day, week...) is not
    a personal move: everyone's place changed, and the digest says so.
    """
    if delta.reset or not watched or not (delta.changes or delta.left):
        return {}
    new = apply(old, Delta(period=delta.period, changes=delta.changes, left=delta.left, overtakes=delta.overtakes))
    before = _ranks(old, watched)
    after = _ranks(new, watched)
    passed_by: dict[str, list[str]] = {}
    for o in delta.overtakes:
        if o.passed in watched:
            passed_by.setdefault(o.passed, []).append(names.get(o.uid, o.uid))
    out: dict[str, Move] = {}
    for uid in watched:
        was, now = before.get(uid), after.get(uid)
        if was != now or uid in passed_by:
            out[uid] = Move(delta.period, was, now, tuple(passed_by.get(uid, ())))
    return out


def _ranks(board: Board, watched: Collection[str]) -> dict[str, int]:
    return {row.uid: row.rank for row in board.rows if row.uid in watched}
