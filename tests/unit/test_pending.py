"""Writes held during a database outage: bounded, merged, and never pointing at a lost run."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from server.leaderboard import pending as pending_module
from server.leaderboard.board import Period, Player
from server.leaderboard.pending import PendingWrites
from server.leaderboard.store import HistoryEntry, SyncWrite

T0 = datetime(2026, 11, 18, tzinfo=UTC)


def write(n: int, *uids: str) -> SyncWrite:
    players = [Player(uid, uid, 1, 1, 1, float(n)) for uid in uids]
    return SyncWrite(
        run_id=None, started_at=T0 + timedelta(minutes=n), trigger="schedule", at=T0 + timedelta(minutes=n), seq=n,
        upserts=players, gone=[], history=[HistoryEntry(Period.ALL_TIME, uid, 1, float(n)) for uid in uids],
        players=len(players), changes=len(players), timings={},
    )


def test_past_the_run_limit_the_oldest_run_goes_with_its_history() -> None:
    held = PendingWrites()
    writes = [write(n, f"p{n % 3}", "whale") for n in range(pending_module.MAX_RUNS + 5)]
    for w in writes:
        held.add(w)
    assert len(held.runs) == pending_module.MAX_RUNS
    assert held.runs[0] is writes[5]
    runs = {id(r) for r in held.runs}
    assert all(id(run) in runs for run, _ in held.history)  # the store keys points by their run
    assert held.dropped_history == 5 * 2
    assert held.players["whale"].all_time == float(pending_module.MAX_RUNS + 4)  # latest state kept


def test_set_aside_forgets_a_players_rows() -> None:
    held = PendingWrites()
    held.add(write(1, "good", "bad"))
    held.add(write(2, "bad"))
    held.set_aside({"bad"})
    assert set(held.players) == {"good"}
    assert [h.uid for _, h in held.history] == ["good"]
    assert len(held.runs) == 2  # the runs themselves are still written
