"""The sync job: fetch, check, rank, diff, store, publish; one at a time."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

import msgspec

from server.db.engine import DATA_ERRORS, DB_ERRORS
from server.errors import GoatedError, UpstreamAuthError, UpstreamError, UpstreamPayloadError
from server.leaderboard.board import Board, Period, Player
from server.leaderboard.changes import changed_players, history_entries
from server.leaderboard.diff import diff
from server.leaderboard.live import LiveBoards
from server.leaderboard.pending import PendingWrites
from server.leaderboard.periods import rolled_over
from server.leaderboard.privacy import NameMask, public_players
from server.leaderboard.ranking import rank_all
from server.leaderboard.store import BoardStore, SyncWrite
from server.logs import SYNC_ID
from server.leaderboard.messages import BoardsSynced, DeltaMsg

log = logging.getLogger(__name__)

SHRINK_LIMIT = 0.5  # a list that lost more than half its players is suspect
REFUSED_EXAMPLES = 3  # refused rows described in the log and /health per sync


class RefusedRow(Protocol):
    """A row the upstream edge left out of a snapshot (server/upstream/contract.py)."""

    @property
    def reason(self) -> str: ...

    @property
    def detail(self) -> str: ...


class Fetched(Protocol):
    """One decoded upstream answer (server/upstream/client.py's `Fetched`)."""

    players: list[Player]
    refused: list[RefusedRow]
    elapsed: float  # seconds the request took
    decode_seconds: float


class Upstream(Protocol):
    """The edge the sync reads from (the resilient Goated client, in the app)."""

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
    refused_rows: int = 0  # rows refused from the last good response
    refused_examples: tuple[str, ...] = ()  # a few of their reasons, for /health
    refused_total: dict[str, int] = field(default_factory=dict)  # by reason, since start (/metrics)

    def succeeded(self, at: datetime, latency: float, refused: Sequence[RefusedRow] = ()) -> None:
        self.last_success_at, self.last_latency = at, latency
        self.consecutive_failures = 0
        self.last_error_kind = None
        self.refused_rows = len(refused)
        self.refused_examples = tuple(row.detail[:200] for row in refused[:REFUSED_EXAMPLES])
        for row in refused:
            self.refused_total[row.reason] = self.refused_total.get(row.reason, 0) + 1
        if refused:
            log.warning(
                "refused %d upstream row(s); the other rows are synced: %s",
                len(refused), "; ".join(self.refused_examples),
            )

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

    refused_rows: tuple[str, ...] = ()  # what the last write set aside (empty: nothing)
    refused_at: datetime | None = None
    refused_total: int = 0

    def failed(self, at: datetime, exc: BaseException) -> None:
        if self.ok:
            log.error("database unavailable, holding sync writes in memory: %s: %s", type(exc).__name__, exc)
        self.ok, self.last_error, self.last_error_at = False, f"{type(exc).__name__}: {exc}", at

    def refused(self, at: datetime, details: Sequence[str]) -> None:
        self.refused_rows = tuple(d[:300] for d in details[:REFUSED_EXAMPLES])
        self.refused_at = at
        self.refused_total += len(details)

    def stored(self, *, clean: bool) -> None:
        if not self.ok:
            log.info("database is back")
        self.ok = True
        if clean:
            self.refused_rows = ()


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


Event = msgspec.Struct  # any wire event (server/events.py names them all)


class Publish(Protocol):
    """Delivers an event to this process's viewers and the other replicas (`Relay.publish`).
    With `boards`, the new boards of a sync are taken as they are instead of re-derived."""

    async def __call__(self, event: Event, *, boards: Mapping[Period, Board] | None = None) -> None: ...


@dataclass(frozen=True, slots=True)
class SyncOutcome:
    """What one sync found, staged before anything is written: the boards before and after,
    the event every replica applies, the rows to store, and the snapshot's players."""

    previous: Mapping[Period, Board]
    boards: Mapping[Period, Board]
    event: BoardsSynced
    write: SyncWrite
    players: Mapping[str, Player]


class SyncStep(Protocol):
    """A feature's part of a sync (race standings, the Telegram outbox): a function of the
    outcome, run inside the sync's one transaction."""

    async def write(self, outcome: SyncOutcome) -> Sequence[Event]:
        """Write what belongs with this sync; return the events to publish once it commits."""


def stage(
    previous: Mapping[Period, Board],
    players_before: Mapping[str, Player],
    players: Sequence[Player],
    *,
    seq: int,
    run_id: int | None,
    trigger: str,
    started: datetime,
    previous_at: datetime | None,
    at: datetime,
    timings: dict[str, float],
    names: NameMask,
) -> SyncOutcome:
    """Rank, diff and describe one snapshot (pure): the outcome the sync then stores and publishes.

    Names are masked here (`names`), before anything is ranked: the boards, deltas, races
    and Telegram posts all derive from these players, so none of them sees a real name."""
    mark = time.perf_counter()
    players = public_players(players, names)  # counted in "rank": about 1 us a player when on
    boards = rank_all(players)
    timings["rank"] = time.perf_counter() - mark
    mark = time.perf_counter()
    deltas = {p: diff(previous[p], boards[p], rollover=rolled_over(p, previous_at, at)) for p in Period}
    timings["diff"] = time.perf_counter() - mark

    current = {p.uid: p for p in players}
    upserts, gone = changed_players(players_before, current)
    history = [h for p in Period for h in history_entries(previous[p], boards[p], deltas[p])]
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
                lifetimes={} if p is Period.ALL_TIME else {c.uid: current[c.uid].all_time for c in d.changes},
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
        changes=sum(len(d.changes) + len(d.left) for d in deltas.values()),
        timings=timings,
    )
    return SyncOutcome(previous, boards, event, write, current)


class SyncService:
    """Owns the previous snapshot and turns each new one into a published event."""

    def __init__(
        self,
        upstream: Upstream,
        store: BoardStore,
        live: LiveBoards,
        publish: Publish,
        clock: Callable[[], datetime],
        names: NameMask = NameMask.OFF,
    ) -> None:
        self._upstream = upstream
        self._names = names
        self._store = store
        self._live = live
        self._publish = publish
        self._clock = clock
        self._players: dict[str, Player] = {}
        self._seq = 0
        self._synced_at: datetime | None = None  # when the snapshot in force was taken
        self._inflight: asyncio.Future[SyncResult] | None = None
        self._suspect_size: int | None = None
        self.pending = PendingWrites()
        self.upstream = UpstreamHealth()
        self.database = DatabaseHealth()
        self.last_result: SyncResult | None = None
        self.steps: list[SyncStep] = []  # features' parts of each sync, in order (wired by the app)
        self.observers: list[Callable[[SyncResult], None]] = []  # called with every result (/metrics)

    @property
    def players(self) -> Mapping[str, Player]:
        """The last good snapshot, by uid."""
        return self._players

    async def load(self) -> None:
        """Resume from the database so the first sync diffs against the last board."""
        stored, last = await self._store.load_board()
        held = max(self._seq, self._live.seq)
        if last is not None and last.seq < held:
            # A sync of this process committed (or was held in memory) while the database was
            # read: what this process holds is newer, and going back would make its next sync
            # repeat a version every replica already has.
            log.info("the database is at board version %d, behind this process's %d: kept what it holds", last.seq, held)
            return
        players = public_players(stored, self._names)
        self._players = {p.uid: p for p in players}
        self._seq = last.seq if last else 0
        self._synced_at = last.finished_at if last else None
        self._live.reset_to(
            rank_all(players),
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
        """One sync, top to bottom: fetch → stage (pure) → one transaction → publish."""
        timings: dict[str, float] = {}
        started = self._clock()
        run_id = await self._start_run(trigger, started)
        SYNC_ID.set(run_id)
        try:
            fetched = await self._upstream.fetch()
            timings["fetch"] = fetched.elapsed
            timings["decode"] = fetched.decode_seconds
            self._check_plausible(fetched.players, fetched.refused)
        except UpstreamError as exc:
            return await self._failed(run_id, started, trigger, exc, timings)
        self.upstream.succeeded(self._clock(), fetched.elapsed, fetched.refused)

        # The boards in force are the live ones: this process applied every version it made.
        previous = {p: self._live.board(p) for p in Period}
        outcome = stage(
            previous, self._players, fetched.players,
            seq=self._seq + 1, run_id=run_id, trigger=trigger, started=started,
            previous_at=self._synced_at, at=self._clock(), timings=timings, names=self._names,
        )

        mark = time.perf_counter()
        stored, events = await self._persist(outcome)
        timings["persist"] = time.perf_counter() - mark
        # From here on this snapshot is the one in force, stored or held.
        event = outcome.event
        self._players, self._seq, self._synced_at = outcome.players, event.seq, event.synced_at

        mark = time.perf_counter()
        await self._publish(event, boards=outcome.boards)
        for follow_up in events:  # what the steps wrote, now that it is committed
            await self._publish(follow_up)
        timings["publish"] = time.perf_counter() - mark
        timings["total"] = (self._clock() - started).total_seconds()
        write = outcome.write
        log.info(
            "sync %s ok: %d players, %d changes, version %d, %.0f ms%s",
            run_id if run_id is not None else "-", write.players, write.changes, event.seq, timings["total"] * 1000,
            "" if stored else " (held: database unavailable)",
            extra={"trigger": trigger, "ms": {stage: round(s * 1000, 1) for stage, s in timings.items()}},
        )
        self.last_result = SyncResult(run_id, "ok", write.players, write.changes, event.seq, None, timings, stored)
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

    async def _persist(self, outcome: SyncOutcome) -> tuple[bool, list[Event]]:
        """Write this sync (and any held during an outage) with every step's rows in one
        transaction; hold it if the database is down. Returns (stored, events to publish)."""
        events: list[Event] = []

        async def steps() -> None:
            events.clear()  # a retried transaction starts over
            for step in self.steps:
                events.extend(await step.write(outcome))

        self.pending.add(outcome.write)  # one path: what is to be written is held until it is
        stored = await self._flush(steps)
        return stored, events if stored else []

    async def _flush(self, also: Callable[[], Awaitable[None]] | None = None) -> bool:
        """Write everything held in one transaction; True when it is stored.

        The database down: the writes stay held (bounded, merged) for the next try. The
        database refusing a value (the data's fault, not the database's): the refused
        players are found, set aside and the rest is written; the database stays `ok`.
        """
        for attempt in (1, 2):
            held = self.pending
            try:
                await self._store.commit_many(
                    list(held.runs), list(held.players.values()), sorted(held.gone), list(held.history), also
                )
            except DATA_ERRORS as exc:
                try:
                    if attempt == 1 and await self._set_aside(held, exc):
                        continue
                except DB_ERRORS as probe_exc:  # the database went away while we looked: hold
                    self.database.failed(self._clock(), probe_exc)
                    return False
                # Nothing to single out (the refusal came from rows derived from these): drop
                # this batch rather than retry it forever; the next sync writes the state again.
                self.database.refused(self._clock(), [f"{held.summary()} dropped: {type(exc).__name__}: {exc}"])
                log.error("the database refused the held writes (%s: %s); dropped %s", type(exc).__name__, exc, held.summary())
                self.pending = PendingWrites()
                return False
            except DB_ERRORS as exc:
                self.database.failed(self._clock(), exc)
                return False
            if len(held.runs) > 1:
                log.info("wrote %s held during the database outage", held.summary())
            self.pending = PendingWrites()
            self.database.stored(clean=attempt == 1)
            return True
        raise AssertionError("unreachable")  # pragma: no cover

    async def _set_aside(self, held: PendingWrites, exc: BaseException) -> bool:
        """Find the players the database refuses and drop them from `held`; False if none."""
        refused = await self._store.refused_players(list(held.players.values()), held.runs[-1].at)
        if not refused:
            return False
        held.set_aside({player.uid for player, _ in refused})
        details = [f"uid {ascii(player.uid[:80])}: {error}" for player, error in refused]
        self.database.refused(self._clock(), details)
        log.error(
            "the database refused %d player row(s) (%s: %s); set aside, the rest is written: %s",
            len(refused), type(exc).__name__, exc, "; ".join(details[:REFUSED_EXAMPLES]),
        )
        return True

    async def flush_if_pending(self) -> bool:
        """Retry held writes between syncs (called by the schedule); True when flushed."""
        if not self.pending or self._inflight is not None:
            return False
        return await self._flush()

    def _check_plausible(self, players: list[Player], refused: Sequence[RefusedRow] = ()) -> None:
        """Refuse an empty list, and a list that lost over half its players unless the
        same size comes back on the next sync (then the shrink is real)."""
        if not players and refused:
            raise UpstreamPayloadError(
                f"none of the upstream's {len(refused)} rows matches the contract ({refused[0].detail}); keeping the last board"
            )
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
