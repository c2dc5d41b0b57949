"""Persistence of snapshots, sync runs and history through Piccolo (SQLite or PostgreSQL)."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from piccolo.engine.base import Engine
from piccolo.engine.postgres import PostgresEngine

from server.db.engine import DATA_ERRORS
from server.db.tables import HistoryPoint, PlayerRow, SyncRun
from server.leaderboard.board import Player
from server.leaderboard.changes import HistoryEntry

BATCH = 1000  # rows per INSERT; see docs/performance.md for the measurement


@dataclass(frozen=True, slots=True)
class LastSync:
    sync_id: int
    seq: int
    finished_at: datetime


@dataclass(frozen=True, slots=True)
class SyncWrite:
    """Everything one successful sync writes, in one transaction."""

    run_id: int | None  # None: the database was down when the sync started
    started_at: datetime
    trigger: str
    at: datetime
    seq: int
    upserts: Sequence[Player]  # new or changed players
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

    async def load_board(self) -> tuple[list[Player], LastSync | None]:
        """The players on the board and the last good sync (the version they are at), read
        from one snapshot of the database. Read apart, a sync committing in between would
        label the players of one version with a later one: a replica that loads them would
        then skip the later versions' events as already held, and serve a board it never
        reached. SQLite's read transaction is one snapshot already; PostgreSQL's default
        (read committed) is not, hence REPEATABLE READ."""
        outer = self.engine.current_transaction.get() is not None  # then it is the caller's snapshot
        async with self.engine.transaction():
            if isinstance(self.engine, PostgresEngine) and not outer:
                await SyncRun.raw("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ").run()
            last = await self.last_sync()
            players = await self.load_players()
        return players, last

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

    async def fail_run(
        self, run_id: int | None, started_at: datetime, trigger: str, at: datetime, status: str, error: str, timings: dict[str, float]
    ) -> None:
        if run_id is None:
            await SyncRun.insert(
                SyncRun(started_at=started_at, trigger=trigger, finished_at=at, status=status, error=error[:2000], timings=json.dumps(timings))
            ).run()
            return
        await SyncRun.update(
            {
                SyncRun.finished_at: at,
                SyncRun.status: status,
                SyncRun.error: error[:2000],
                SyncRun.timings: json.dumps(timings),
            }
        ).where(SyncRun.id == run_id).run()

    async def start_run(self, trigger: str, at: datetime) -> int:
        result = await SyncRun.insert(SyncRun(started_at=at, trigger=trigger, status="running")).returning(SyncRun.id).run()
        return result[0]["id"]

    async def commit_many(
        self,
        runs: Sequence[SyncWrite],
        upserts: Iterable[Player],
        gone: Iterable[str],
        history: Iterable[tuple[SyncWrite, HistoryEntry]],
        also: Callable[[], Awaitable[None]] | None = None,
    ) -> dict[int, int]:
        """Write one or more syncs (several after a database outage) in one transaction.

        Returns the database id of each run, keyed by `id(write)`.
        """
        async with self.engine.transaction():
            if also is not None:
                await also()
            ids: dict[int, int] = {}
            for write in runs:
                ids[id(write)] = await self._record_run(write)
            last_at = runs[-1].at
            for batch in _batches(upserts, BATCH):
                await _upsert_players(batch, last_at)
            for batch in _batches(gone, BATCH):
                await PlayerRow.update(
                    {PlayerRow.gone_at: last_at, PlayerRow.last_seen: last_at}
                ).where(PlayerRow.uid.is_in(list(batch))).run()
            for batch in _batches(history, BATCH):
                await HistoryPoint.insert(
                    *(
                        HistoryPoint(
                            sync_id=ids[id(write)],
                            period=h.period.value,
                            uid=h.uid,
                            rank=h.rank,
                            amount=h.amount,
                            at=write.at,
                        )
                        for write, h in batch
                    )
                ).run()
            return ids

    async def refused_players(self, players: Sequence[Player], at: datetime) -> list[tuple[Player, str]]:
        """The players the database refuses to store, each with its error.

        Halves the list until each refused row stands alone, trying every half in a
        transaction that is rolled back: a few rounds for one bad row among thousands.
        """
        refused: list[tuple[Player, str]] = []
        pending = [list(players)]
        while pending:
            part = pending.pop()
            error = await self._refusal(part, at)
            if error is None:
                continue
            if len(part) == 1:
                refused.append((part[0], error))
            else:
                half = len(part) // 2
                pending += [part[half:], part[:half]]
        return refused

    async def _refusal(self, players: Sequence[Player], at: datetime) -> str | None:
        try:
            async with self.engine.transaction():
                for batch in _batches(players, BATCH):
                    await _upsert_players(batch, at)
                raise _TryOnly
        except _TryOnly:
            return None
        except DATA_ERRORS as exc:
            return f"{type(exc).__name__}: {exc}"

    async def _record_run(self, write: SyncWrite) -> int:
        values = {
            SyncRun.finished_at: write.at,
            SyncRun.status: "ok",
            SyncRun.seq: write.seq,
            SyncRun.players: write.players,
            SyncRun.changes: write.changes,
            SyncRun.timings: json.dumps(write.timings),
        }
        if write.run_id is not None:
            await SyncRun.update(values).where(SyncRun.id == write.run_id).run()
            return write.run_id
        # Started while the database was down: the run gets its row now.
        row = SyncRun(
            started_at=write.started_at,
            trigger=write.trigger,
            finished_at=write.at,
            status="ok",
            seq=write.seq,
            players=write.players,
            changes=write.changes,
            timings=json.dumps(write.timings),
        )
        result = await SyncRun.insert(row).returning(SyncRun.id).run()
        return result[0]["id"]

    async def player(self, uid: str) -> dict | None:
        """The player's row, with the real name: mask it before it goes anywhere public."""
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


class _TryOnly(Exception):
    """Rolls back a transaction that only tried whether rows fit."""


async def _upsert_players(players: Sequence[Player], at: datetime) -> None:
    rows = [
        PlayerRow(
            uid=p.uid,
            name=p.name if p.real_name is None else p.real_name,  # the real name: shown to its player alone
            today=p.today,
            weekly=p.weekly,
            monthly=p.monthly,
            all_time=p.all_time,
            first_seen=at,
            last_seen=at,
            gone_at=None,
        )
        for p in players
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


def _batches[T](items: Sequence[T] | Iterable[T], size: int) -> Iterable[Sequence[T]]:
    seq = list(items)
    for start in range(0, len(seq), size):
        yield seq[start : start + size]
