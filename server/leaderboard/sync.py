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
from server.leaderboard.ranking import rank_all
from server.leaderboard.store import BoardStore, SyncWrite
from server.realtime.messages import BoardsSynced, DeltaMsg
from server.upstream.client import GoatedClient

log = logging.getLogger(__name__)

SHRINK_LIMIT = 0.5  # a list that lost more than half its players is suspect


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

    def failed(self, at: datetime, error: GoatedError) -> None:
        self.last_error, self.last_error_at = str(error), at
        self.last_error_kind = getattr(error, "kind", "error")
        self.consecutive_failures += 1


@dataclass(slots=True)
class SyncResult:
    run_id: int
    status: str  # ok | failed | refused
    players: int = 0
    changes: int = 0
    seq: int | None = None
    error: str | None = None
    timings: dict[str, float] = field(default_factory=dict)


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
        client: GoatedClient,
        store: BoardStore,
        live: LiveBoards,
        publish: Publish,
        clock: Callable[[], datetime],
    ) -> None:
        self._client = client
        self._store = store
        self._live = live
        self._publish = publish
        self._clock = clock
        self._players: dict[str, Player] = {}
        self._boards: dict[Period, Board] = {p: Board(p) for p in Period}
        self._seq = 0
        self._inflight: asyncio.Future[SyncResult] | None = None
        self._suspect_size: int | None = None
        self.upstream = UpstreamHealth()
        self.last_result: SyncResult | None = None
        self.listeners: list[SyncListener] = []

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
        try:
            result = await self._run(trigger)
        except BaseException as exc:
            self._inflight.set_exception(exc)
            self._inflight.exception()  # joined callers re-raise; nobody else must
            raise
        else:
            self._inflight.set_result(result)
            return result
        finally:
            self._inflight = None

    async def _run(self, trigger: str) -> SyncResult:
        timings: dict[str, float] = {}
        started = self._clock()
        run_id = await self._store.start_run(trigger, started)
        mark = time.perf_counter()
        try:
            fetched = await self._client.fetch()
            timings["fetch"] = fetched.elapsed
            timings["decode"] = fetched.decode_seconds
            self._check_plausible(fetched.players)
        except UpstreamError as exc:
            at = self._clock()
            self.upstream.failed(at, exc)
            status = "refused" if isinstance(exc, UpstreamPayloadError) else "failed"
            if isinstance(exc, UpstreamAuthError):
                log.error("sync %d: %s", run_id, exc)
            else:
                log.warning("sync %d %s: %s", run_id, status, exc)
            await self._store.fail_run(run_id, at, status, str(exc), timings)
            self.last_result = SyncResult(run_id, status, error=str(exc), timings=timings)
            return self.last_result
        self.upstream.succeeded(self._clock(), fetched.elapsed)

        mark = time.perf_counter()
        boards = rank_all(fetched.players)
        timings["rank"] = time.perf_counter() - mark

        mark = time.perf_counter()
        deltas = {p: diff(self._boards[p], boards[p]) for p in Period}
        timings["diff"] = time.perf_counter() - mark

        current = {p.uid: p for p in fetched.players}
        upserts, new_uids, gone = changed_players(self._players, current)
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

        async def with_listeners() -> None:
            for listener in self.listeners:
                await listener.in_transaction(event, current)

        mark = time.perf_counter()
        await self._store.commit_sync(
            SyncWrite(
                run_id=run_id,
                at=at,
                seq=seq,
                upserts=upserts,
                new_uids=new_uids,
                gone=gone,
                history=history,
                players=len(current),
                changes=changes,
                timings=timings,
            ),
            also=with_listeners,
        )
        timings["persist"] = time.perf_counter() - mark
        self._players, self._boards, self._seq = current, boards, seq

        mark = time.perf_counter()
        await self._publish(event)
        for listener in self.listeners:
            await listener.after_publish(event, current)
        timings["publish"] = time.perf_counter() - mark
        timings["total"] = (self._clock() - started).total_seconds()
        log.info(
            "sync %d ok: %d players, %d changes, version %d, %.0f ms",
            run_id, len(current), changes, seq, timings["total"] * 1000,
        )
        self.last_result = SyncResult(run_id, "ok", len(current), changes, seq, None, timings)
        return self.last_result

    def _check_plausible(self, players: list[Player]) -> None:
        """Refuse an empty list, and a list that lost over half its players unless the
        same size comes back on the next sync (then the shrink is real)."""
        if not players:
            raise UpstreamPayloadError("upstream sent an empty player list")
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
) -> None:
    """Sync at every multiple of `interval` since the epoch (:00/:15/:30/:45 for 900 s).

    With `first_now`, sync once straight away (nothing to show yet).
    """
    if first_now:
        await _scheduled(service)
    while True:
        now = wall()
        await sleep(next_boundary(now, interval) - now)
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
