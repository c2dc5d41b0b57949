"""The boards this process serves, kept current by applying each sync's deltas."""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from server.leaderboard.board import Board, Delta, Period, Row
from server.leaderboard.diff import apply
from server.leaderboard.search import search_key, search_keys, select
from server.leaderboard.messages import BoardRow, BoardsSynced, DeltaMsg, SnapshotMsg, encoder

REPLAY_DEPTH = 32  # deltas kept per period so a reconnecting client can resume


@dataclass(slots=True)
class PeriodState:
    board: Board
    by_uid: dict[str, Row]
    prev_rank: dict[str, int]
    replay: deque[tuple[int, str]] = field(default_factory=lambda: deque(maxlen=REPLAY_DEPTH))
    snapshot_cache: dict[int | None, str] = field(default_factory=dict)
    name_keys: tuple[str, ...] | None = None  # search keys of board.rows, built by a version's first search


class Outcome:
    APPLIED = "applied"
    STALE = "stale"  # already have this version (our own sync, or a duplicate)
    GAP = "gap"  # missed a version: reload from the database


class LiveBoards:
    """Ranked boards in memory, the version (`seq`) they are at, and encoded messages.

    Every process holds one; each sync's `BoardsSynced` event moves it forward.
    """

    def __init__(self) -> None:
        self.seq = 0
        self.sync_id: int | None = None
        self.synced_at: datetime | None = None
        self._periods: dict[Period, PeriodState] = {
            p: PeriodState(Board(p), {}, {}) for p in Period
        }

    @property
    def loaded(self) -> bool:
        return self.sync_id is not None

    def reset_to(
        self,
        boards: dict[Period, Board],
        *,
        seq: int,
        sync_id: int | None,
        synced_at: datetime | None,
    ) -> None:
        """Replace everything (start-up load, or recovery after a gap)."""
        self.seq, self.sync_id, self.synced_at = seq, sync_id, synced_at
        for period in Period:
            board = boards.get(period, Board(period))
            self._periods[period] = PeriodState(board, {r.uid: r for r in board.rows}, {})

    def board(self, period: Period) -> Board:
        return self._periods[period].board

    def row(self, period: Period, uid: str) -> Row | None:
        return self._periods[period].by_uid.get(uid)

    def prev_rank(self, period: Period, uid: str) -> int | None:
        return self._periods[period].prev_rank.get(uid)

    def name_keys(self, period: Period) -> tuple[str, ...]:
        """The search key of each row's name, in rank order; built once per version."""
        state = self._periods[period]
        if state.name_keys is None:
            state.name_keys = search_keys(r.name for r in state.board.rows)
        return state.name_keys

    def search(self, period: Period, query: str) -> tuple[Row, ...] | list[Row]:
        """The period's rows whose name matches `query` (see `search.matches`), in rank
        order; the whole board when the query is blank."""
        needle = search_key(query)
        rows = self._periods[period].board.rows
        return select(needle, rows, self.name_keys(period)) if needle else rows

    def apply_event(self, event: BoardsSynced, boards: Mapping[Period, Board] | None = None) -> str:
        """Move to the event's version. `boards`: the process that made the event passes the
        boards it ranked, so they are taken as they are; every other process applies the
        deltas (`diff.apply`) to reach the same boards."""
        if event.seq <= self.seq:
            return Outcome.STALE
        if self.seq and event.seq != self.seq + 1:
            return Outcome.GAP
        for delta in event.deltas:
            state = self._periods[delta.period]
            board = boards[delta.period] if boards is not None else apply(state.board, _as_delta(delta))
            state.prev_rank = {uid: row.rank for uid, row in state.by_uid.items()}
            state.board = board
            state.by_uid = {r.uid: r for r in board.rows}
            state.snapshot_cache.clear()
            state.name_keys = None
            state.replay.append((event.seq, encoder.encode(delta).decode()))
        self.seq, self.sync_id, self.synced_at = event.seq, event.sync_id, event.synced_at
        return Outcome.APPLIED

    def rows(self, period: Period, rows: tuple[Row, ...] | list[Row]) -> list[BoardRow]:
        """Wire rows, each with its previous rank and its all-time amount (the tier's basis)."""
        prev = self._periods[period].prev_rank
        if period is Period.ALL_TIME:
            return [BoardRow(r.rank, r.uid, r.name, r.amount, prev.get(r.uid), r.amount) for r in rows]
        lifetime = self._periods[Period.ALL_TIME].by_uid
        return [
            BoardRow(r.rank, r.uid, r.name, r.amount, prev.get(r.uid), (life.amount if (life := lifetime.get(r.uid)) else None))
            for r in rows
        ]

    def snapshot_text(self, period: Period, channel: str, limit: int | None) -> str:
        """The encoded snapshot for a channel, built once per version and limit."""
        state = self._periods[period]
        cached = state.snapshot_cache.get(limit)
        if cached is None:
            rows = state.board.rows if limit is None else state.board.rows[:limit]
            msg = SnapshotMsg(
                channel=channel,
                seq=self.seq,
                period=period,
                sync_id=self.sync_id,
                synced_at=self.synced_at,
                total=state.board.total,
                rows=self.rows(period, rows),
            )
            cached = encoder.encode(msg).decode()
            if len(state.snapshot_cache) < 16:
                state.snapshot_cache[limit] = cached
        return cached

    def latest_text(self, period: Period) -> str:
        """The encoded delta of the current version."""
        return self._periods[period].replay[-1][1]

    def replay_since(self, period: Period, since: int) -> list[str] | None:
        """Deltas after `since`, or None when they are no longer held."""
        if since == self.seq:
            return []
        if since > self.seq:
            return None
        held = self._periods[period].replay
        missing = [text for seq, text in held if seq > since]
        if len(missing) != self.seq - since:
            return None
        return missing


def _as_delta(msg: DeltaMsg) -> Delta:
    return Delta(
        period=msg.period,
        reset=msg.reset,
        changes=msg.changes,
        left=msg.left,
        overtakes=msg.overtakes,
        shifted=msg.shifted,
    )
