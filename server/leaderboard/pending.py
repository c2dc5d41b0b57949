"""Sync writes held while the database is unreachable, merged so nothing of the current
state is lost, and bounded so an outage cannot eat the memory."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from server.leaderboard.board import Player
from server.leaderboard.store import HistoryEntry, SyncWrite

MAX_HISTORY = 200_000  # history points held; the oldest go first (counted in `dropped_history`)
MAX_RUNS = 2_000


@dataclass(slots=True)
class PendingWrites:
    players: dict[str, Player] = field(default_factory=dict)
    gone: set[str] = field(default_factory=set)
    history: deque[tuple[SyncWrite, HistoryEntry]] = field(default_factory=lambda: deque(maxlen=MAX_HISTORY))
    runs: deque[SyncWrite] = field(default_factory=lambda: deque(maxlen=MAX_RUNS))
    dropped_history: int = 0

    def __bool__(self) -> bool:
        return bool(self.runs)

    def add(self, write: SyncWrite) -> None:
        if len(self.runs) == MAX_RUNS:
            # The oldest run goes, and its history points with it (they are the oldest too):
            # a point must never outlive the run it belongs to.
            oldest = self.runs.popleft()
            while self.history and self.history[0][0] is oldest:
                self.history.popleft()
                self.dropped_history += 1
        for player in write.upserts:
            self.players[player.uid] = player
            self.gone.discard(player.uid)
        for uid in write.gone:
            self.players.pop(uid, None)
            self.gone.add(uid)
        overflow = len(self.history) + len(write.history) - MAX_HISTORY
        if overflow > 0:
            self.dropped_history += overflow
        self.history.extend((write, h) for h in write.history)
        self.runs.append(write)

    def set_aside(self, uids: set[str]) -> None:
        """Forget the rows of players the database refused (see BoardStore.refused_players)."""
        for uid in uids:
            self.players.pop(uid, None)
            self.gone.discard(uid)
        kept = [(run, h) for run, h in self.history if h.uid not in uids]
        self.history.clear()
        self.history.extend(kept)

    def summary(self) -> dict[str, int]:
        return {
            "syncs": len(self.runs),
            "players": len(self.players),
            "history_points": len(self.history),
            "dropped_history_points": self.dropped_history,
        }
