"""What a sync must write: changed players and history points (pure)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from server.leaderboard.board import Board, Delta, Period, Player


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    """A player's rank (None: left the board) and amount in one period after a sync."""

    period: Period
    uid: str
    rank: int | None
    amount: float


# Rows that only shifted because others moved are recorded for the top of each board,
# so rank charts of the players people watch stay exact without writing every shift.
HISTORY_RANK_TOP = 100


def changed_players(
    previous: Mapping[str, Player], current: Mapping[str, Player]
) -> tuple[list[Player], list[str]]:
    """(players new or changed, uids no longer listed)."""
    upserts = [p for uid, p in current.items() if previous.get(uid) != p]
    gone = sorted(uid for uid in previous if uid not in current)
    return upserts, gone


def history_entries(old: Board, new: Board, delta: Delta) -> list[HistoryEntry]:
    period = new.period
    entries = [HistoryEntry(period, c.uid, c.rank, c.amount) for c in delta.changes]
    if delta.reset:
        return entries
    entries.extend(HistoryEntry(period, uid, None, 0.0) for uid in delta.left)
    listed = {c.uid for c in delta.changes}
    old_rank = {r.uid: r.rank for r in old.rows}
    for row in new.rows[:HISTORY_RANK_TOP]:
        if row.uid not in listed and old_rank.get(row.uid) != row.rank:
            entries.append(HistoryEntry(period, row.uid, row.rank, row.amount))
    return entries
