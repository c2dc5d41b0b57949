"""Persistence of snapshots, sync runs and history through Piccolo (SQLite or PostgreSQL)."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from piccolo.engine.base import Engine

from server.db.tables import HistoryPoint, PlayerRow, SyncRun
from server.leaderboard.board import Period, Player

BATCH = 1000  # rows per INSERT; see docs/performance.md for the measurement


@dataclass(frozen=True, slots=True)
class LastSync:
    sync_id: int
    seq: int
    finished_at: datetime


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    period: Period
    uid: str
    rank: int | None
    amount: float


@dataclass(frozen=True, slots=True)
class SyncWrite:
    """Everything one successful sync writes, in one transaction."""

    run_id: int
    at: datetime
    seq: int
    upserts: Sequence[Player]  # new or changed players
    new_uids: frozenset[str]
    gone: Sequence[str]  # players no longer listed upstream
    history: Sequence[HistoryEntry]
    players: int
    changes: int
    timings: dict[str, float]


class BoardStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    async def ping(self) -> None:
        await SyncRun.count().run()

    async def load_players(self) -> list[Player]:
        rows = await PlayerRow.select(
            PlayerRow.uid,
            PlayerRow.name,
            PlayerRow.today,
            PlayerRow.weekly,
            PlayerRow.monthly,
            PlayerRow.all_time,
        ).where(PlayerRow.gone_at.is_null()).run()
        return [Player(**row) for row in rows]

    async def last_sync(self) -> LastSync | None:
        row = (
            await SyncRun.select(SyncRun.id, SyncRun.seq, SyncRun.finished_at)
            .where(SyncRun.status == "ok")
            .order_by(SyncRun.id, ascending=False)
            .first()
            .run()
        )
        if row is None or row["seq"] is None:
            return None
        return LastSync(row["id"], row["seq"], row["finished_at"])

    async def start_run(self, trigger: str, at: datetime) -> int:
        result = await SyncRun.insert(SyncRun(started_at=at, trigger=trigger, status="running")).returning(SyncRun.id).run()
        return result[0]["id"]

    async def fail_run(self, run_id: int, at: datetime, status: str, error: str, timings: dict[str, float]) -> None:
        await SyncRun.update(
            {
                SyncRun.finished_at: at,
                SyncRun.status: status,
                SyncRun.error: error[:2000],
                SyncRun.timings: json.dumps(timings),
            }
        ).where(SyncRun.id == run_id).run()

    async def commit_sync(self, write: SyncWrite, also: Callable[[], Awaitable[None]] | None = None) -> None:
        """Write a sync in one transaction; `also` adds other features' rows to it."""
        async with self.engine.transaction():
            if also is not None:
                await also()
            for batch in _batches(write.upserts, BATCH):
                rows = [
                    PlayerRow(
                        uid=p.uid,
                        name=p.name,
                        today=p.today,
                        weekly=p.weekly,
                        monthly=p.monthly,
                        all_time=p.all_time,
                        first_seen=write.at,
                        last_seen=write.at,
                        gone_at=None,
                    )
                    for p in batch
                ]
                await PlayerRow.insert(*rows).on_conflict(
                    target=PlayerRow.uid,
                    action="DO UPDATE",
                    values=[
                        PlayerRow.name,
                        PlayerRow.today,
                        PlayerRow.weekly,
                        PlayerRow.monthly,
                        PlayerRow.all_time,
                        PlayerRow.last_seen,
                        PlayerRow.gone_at,
                    ],
                ).run()
            for batch in _batches(write.gone, BATCH):
                await PlayerRow.update(
                    {PlayerRow.gone_at: write.at, PlayerRow.last_seen: write.at}
                ).where(PlayerRow.uid.is_in(list(batch))).run()
            for batch in _batches(write.history, BATCH):
                await HistoryPoint.insert(
                    *(
                        HistoryPoint(
                            sync_id=write.run_id,
                            period=h.period.value,
                            uid=h.uid,
                            rank=h.rank,
                            amount=h.amount,
                            at=write.at,
                        )
                        for h in batch
                    )
                ).run()
            await SyncRun.update(
                {
                    SyncRun.finished_at: write.at,
                    SyncRun.status: "ok",
                    SyncRun.seq: write.seq,
                    SyncRun.players: write.players,
                    SyncRun.changes: write.changes,
                    SyncRun.timings: json.dumps(write.timings),
                }
            ).where(SyncRun.id == write.run_id).run()

    async def player(self, uid: str) -> dict | None:
        return await PlayerRow.select().where(PlayerRow.uid == uid).first().run()

    async def history(self, uid: str, limit: int = 500) -> list[dict]:
        rows = (
            await HistoryPoint.select(HistoryPoint.period, HistoryPoint.rank, HistoryPoint.amount, HistoryPoint.at)
            .where(HistoryPoint.uid == uid)
            .order_by(HistoryPoint.id, ascending=False)
            .limit(limit)
            .run()
        )
        rows.reverse()
        return rows

    async def recent_runs(self, limit: int = 20) -> list[dict]:
        return (
            await SyncRun.select()
            .order_by(SyncRun.id, ascending=False)
            .limit(limit)
            .run()
        )


def _batches[T](items: Sequence[T] | Iterable[T], size: int) -> Iterable[Sequence[T]]:
    seq = list(items)
    for start in range(0, len(seq), size):
        yield seq[start : start + size]
