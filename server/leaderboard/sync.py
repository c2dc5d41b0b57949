"""The sync job: fetch, check, rank, diff, store, publish; one at a time."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from server.db.engine import DB_ERRORS
from server.errors import GoatedError, UpstreamAuthError, UpstreamError, UpstreamPayloadError
from server.leaderboard.board import Board, Period, Player
from server.leaderboard.changes import changed_players, history_entries
from server.leaderboard.diff import diff
from server.leaderboard.live import LiveBoards
from server.leaderboard.pending import PendingWrites
from server.leaderboard.ranking import rank_all
from server.leaderboard.store import BoardStore, SyncWrite
from server.logs import SYNC_ID
from server.realtime.messages import BoardsSynced, DeltaMsg
from server.upstream.client import Fetched

log = logging.getLogger(__name__)

SHRINK_LIMIT = 0.5  # a list that lost more than half its players is suspect


class Upstream(Protocol):
    async def fetch(self) -> Fetched: ...


@dataclass(slots=True)
class UpstreamHealth:
    """What /health says about the upstream."""

    last_success_at: datetime | None = None
    last_error: str | None = None
    last_error_kind: str | None = None
    last_error_at: datetime | None = None
    consecutive_failures: int = 0
    last_latency: float | None = None

    def succeeded(self, at: datetime, latency: float) -> None:
        self.last_success_at, self.last_latency = at, latency
        self.consecutive_failures = 0
        self.last_error_kind = None

    def failed(self, at: datetime, error: GoatedError) -> None:
        self.last_error, self.last_error_at = str(error), at
        self.last_error_kind = getattr(error, "kind", "error")
        self.consecutive_failures += 1


@dataclass(slots=True)
class DatabaseHealth:
    """Whether the last sync could write, and what waits for the database to return."""

    ok: bool = True
    last_error: str | None = None
    last_error_at: datetime | None = None

    def failed(self, at: datetime, exc: BaseException) -> None:
        if self.ok:
            log.error("database unavailable, holding sync writes in memory: %s: %s", type(exc).__name__, exc)
        self.ok, self.last_error, self.last_error_at = False, f"{type(exc).__name__}: {exc}", at


@dataclass(slots=True)
class SyncResult:
    run_id: int | None
    status: str  # ok | failed | refused
    players: int = 0
    changes: int = 0
    seq: int | None = None
    error: str | None = None
    timings: dict[str, float] = field(default_factory=dict)
    stored: bool = True  # False: held in memory until the database returns


Publish = Callable[[BoardsSynced], Awaitable[None]]


class SyncListener(Protocol):
    """A feature that follows syncs (races, the Telegram outbox)."""

    async def in_transaction(self, event: BoardsSynced, players: Mapping[str, Player]) -> None:
        """Write what belongs with this sync; runs inside the sync's database transaction."""

    async def after_publish(self, event: BoardsSynced, players: Mapping[str, Player]) -> None:
        """React once the sync is stored and published (only on the syncing process)."""


class SyncService:
    """Owns the previous snapshot and turns each new one into a published event."""

    def __init__(
        self,
        upstream: Upstream,
        store: BoardStore,
        live: LiveBoards,
        publish: Publish,
        clock: Callable[[], datetime],
    ) -> None:
        self._upstream = upstream
        self._store = store
        self._live = live
        self._publish = publish
        self._clock = clock
        self._players: dict[str, Player] = {}
        self._boards: dict[Period, Board] = {p: Board(p) for p in Period}
        self._seq = 0
        self._inflight: asyncio.Future[SyncResult] | None = None
        self._suspect_size: int | None = None
        self.pending = PendingWrites()
        self.upstream = UpstreamHealth()
        self.database = DatabaseHealth()
        self.last_result: SyncResult | None = None
        self.listeners: list[SyncListener] = []
        self.observers: list[Callable[[SyncResult], None]] = []  # called with every result (/metrics)

    @property
    def players(self) -> Mapping[str, Player]:
        """The last good snapshot, by uid."""
        return self._players

    async def load(self) -> None:
        """Resume from the database so the first sync diffs against the last board."""
        players = await self._store.load_players()
        last = await self._store.last_sync()
        self._players = {p.uid: p for p in players}
        self._boards = rank_all(players)
        self._seq = last.seq if last else 0
        self._live.reset_to(
            self._boards,
            seq=self._seq,
            sync_id=last.sync_id if last else None,
            synced_at=last.finished_at if last else None,
        )
        log.info("loaded %d players at board version %d", len(players), self._seq)

    async def run_once(self, trigger: str = "schedule") -> SyncResult:
        """Run a sync, or join the one already running (callers share its result)."""
        if self._inflight is not None:
            return await asyncio.shield(self._inflight)
        self._inflight = asyncio.get_running_loop().create_future()
        context = SYNC_ID.set(None)  # _run binds the run id: every log line of the sync carries it
        try:
            result = await self._run(trigger)
        except BaseException as exc:
            self._inflight.set_exception(exc)
            self._inflight.exception()  # joined callers re-raise; nobody else must
            raise
        else:
            self._inflight.set_result(result)
            for observe in self.observers:
                observe(result)
            return result
        finally:
            SYNC_ID.reset(context)
            self._inflight = None

    async def _run(self, trigger: str) -> SyncResult:
        timings: dict[str, float] = {}
        started = self._clock()
        run_id = await self._start_run(trigger, started)
        SYNC_ID.set(run_id)
        try:
            fetched = await self._upstream.fetch()
            timings["fetch"] = fetched.elapsed
            timings["decode"] = fetched.decode_seconds
            self._check_plausible(fetched.players)
        except UpstreamError as exc:
            return await self._failed(run_id, started, trigger, exc, timings)
        self.upstream.succeeded(self._clock(), fetched.elapsed)

        mark = time.perf_counter()
        boards = rank_all(fetched.players)
        timings["rank"] = time.perf_counter() - mark

        mark = time.perf_counter()
        deltas = {p: diff(self._boards[p], boards[p]) for p in Period}
        timings["diff"] = time.perf_counter() - mark

        current = {p.uid: p for p in fetched.players}
        upserts, gone = changed_players(self._players, current)
        history = [h for p in Period for h in history_entries(self._boards[p], boards[p], deltas[p])]
        at = self._clock()
        seq = self._seq + 1
        changes = sum(len(d.changes) + len(d.left) for d in deltas.values())
        event = BoardsSynced(
            seq=seq,
            sync_id=run_id,
            synced_at=at,
            deltas=[
                DeltaMsg(
                    channel=f"leaderboard:{p.value}",
                    seq=seq,
                    period=p,
                    sync_id=run_id,
                    synced_at=at,
                    total=boards[p].total,
                    reset=d.reset,
                    changes=d.changes,
                    left=d.left,
                    overtakes=d.overtakes,
                    shifted=d.shifted,
                )
                for p, d in deltas.items()
            ],
        )
        write = SyncWrite(
            run_id=run_id,
            started_at=started,
            trigger=trigger,
            at=at,
            seq=seq,
            upserts=upserts,
            gone=gone,
            history=history,
            players=len(current),
            changes=changes,
            timings=timings,
        )

        mark = time.perf_counter()
        stored = await self._persist(write, event, current)
        timings["persist"] = time.perf_counter() - mark
        # From here on this snapshot is the one in force, stored or held.
        self._players, self._boards, self._seq = current, boards, seq

        mark = time.perf_counter()
        await self._publish(event)
        for listener in self.listeners:
            await listener.after_publish(event, current)
        timings["publish"] = time.perf_counter() - mark
        timings["total"] = (self._clock() - started).total_seconds()
        log.info(
            "sync %s ok: %d players, %d changes, version %d, %.0f ms%s",
            run_id if run_id is not None else "-", len(current), changes, seq, timings["total"] * 1000,
            "" if stored else " (held: database unavailable)",
            extra={"trigger": trigger, "ms": {stage: round(s * 1000, 1) for stage, s in timings.items()}},
        )
        self.last_result = SyncResult(run_id, "ok", len(current), changes, seq, None, timings, stored)
        return self.last_result

    async def _start_run(self, trigger: str, at: datetime) -> int | None:
        try:
            return await self._store.start_run(trigger, at)
        except DB_ERRORS as exc:
            self.database.failed(self._clock(), exc)
            return None

    async def _failed(
        self, run_id: int | None, started: datetime, trigger: str, exc: UpstreamError, timings: dict[str, float]
    ) -> SyncResult:
        at = self._clock()
        self.upstream.failed(at, exc)
        status = "refused" if isinstance(exc, UpstreamPayloadError) else "failed"
        if isinstance(exc, UpstreamAuthError):
            log.error("sync %s: %s", run_id, exc)
        else:
            log.warning("sync %s %s: %s", run_id, status, exc)
        try:
            await self._store.fail_run(run_id, started, trigger, at, status, str(exc), timings)
        except DB_ERRORS as db_exc:
            self.database.failed(at, db_exc)
        self.last_result = SyncResult(run_id, status, error=str(exc), timings=timings)
        return self.last_result

    async def _persist(self, write: SyncWrite, event: BoardsSynced, current: Mapping[str, Player]) -> bool:
        """Write this sync (and any held during an outage); hold it if the database is down."""

        async def with_listeners() -> None:
            for listener in self.listeners:
                await listener.in_transaction(event, current)

        try:
            if self.pending:
                self.pending.add(write)
                await self._flush_pending(with_listeners)
            else:
                await self._store.commit_sync(write, also=with_listeners)
        except DB_ERRORS as exc:
            if not self.pending.runs or self.pending.runs[-1] is not write:
                self.pending.add(write)
            self.database.failed(self._clock(), exc)
            return False
        if not self.database.ok:
            log.info("database is back")
        self.database.ok = True
        return True

    async def _flush_pending(self, also: Callable[[], Awaitable[None]] | None = None) -> None:
        pending = self.pending
        await self._store.commit_many(
            list(pending.runs), list(pending.players.values()), sorted(pending.gone), list(pending.history), also
        )
        log.info("wrote %s held during the database outage", pending.summary())
        self.pending = PendingWrites()

    async def flush_if_pending(self) -> bool:
        """Retry held writes between syncs (called by the schedule); True when flushed."""
        if not self.pending or self._inflight is not None:
            return False
        try:
            await self._flush_pending()
        except DB_ERRORS as exc:
            self.database.failed(self._clock(), exc)
            return False
        self.database.ok = True
        return True

    def _check_plausible(self, players: list[Player]) -> None:
        """Refuse an empty list, and a list that lost over half its players unless the
        same size comes back on the next sync (then the shrink is real)."""
        if not players:
            raise UpstreamPayloadError("upstream sent an empty player list; keeping the last board")
        before = len(self._players)
        if before and len(players) < before * SHRINK_LIMIT:
            if self._suspect_size is not None and abs(len(players) - self._suspect_size) <= max(1, before // 100):
                log.warning("player list shrank from %d to %d twice in a row: accepting", before, len(players))
                self._suspect_size = None
                return
            self._suspect_size = len(players)
            raise UpstreamPayloadError(
                f"player list shrank from {before} to {len(players)} (looks truncated); keeping the last board"
            )
        self._suspect_size = None


async def run_schedule(
    service: SyncService,
    interval: float,
    *,
    first_now: bool = False,
    wall: Callable[[], float] = time.time,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    flush_every: float = 5.0,
) -> None:
    """Sync at every multiple of `interval` since the epoch (:00/:15/:30/:45 for 900 s).

    With `first_now`, sync once straight away (nothing to show yet). Between syncs, writes
    held during a database outage are retried every `flush_every` seconds.
    """
    if first_now:
        await _scheduled(service)
    while True:
        target = next_boundary(wall(), interval)
        while (left := target - wall()) > 0:
            await sleep(min(left, flush_every) if service.pending else left)
            if service.pending:
                await service.flush_if_pending()
        await _scheduled(service)


async def _scheduled(service: SyncService) -> None:
    try:
        await service.run_once("schedule")
    except GoatedError as exc:
        log.error("scheduled sync failed: %s", exc)
    except DB_ERRORS as exc:
        log.error("scheduled sync failed, database unavailable: %s: %s", type(exc).__name__, exc)


def next_boundary(now: float, interval: float) -> float:
    ticks = int(now // interval) + 1
    return ticks * interval
