"""The demo's world, and on its first start weeks of simulated history and finished races,
written by the sync's and the races' own code so every page reads them as it reads a sync."""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import msgspec

from server.db.tables import AppState
from server.leaderboard.board import Board, Period, Player
from server.leaderboard.pending import PendingWrites
from server.leaderboard.privacy import NameMask
from server.leaderboard.store import BoardStore
from server.leaderboard.sync import SyncOutcome, stage
from server.races.calendar import DEMO_SPRINT_MINUTES, RaceSpec, Series
from server.races.countdown import Transition, due
from server.races.model import Finalized, Race, RaceKind
from server.races.store import RaceStore
from server.races.tracker import RaceTracker
from server.settings import Settings
from server.upstream.contract import decode
from server.upstream.simulator import Simulation

log = logging.getLogger(__name__)

# Hours between backfilled snapshots: the first that keeps snapshots x players within the
# budget. Each snapshot is decoded, ranked and diffed like a sync (about 4 ms of CPU for 2,000
# players, with its write), so the budget keeps a first start within a couple of seconds: 21
# days of 2,000 players are synced every 2 hours, a smaller world every hour. Each divides a
# day, so every period boundary (all are at midnight UTC) has its snapshot.
STEPS_HOURS = (1, 2, 3, 4, 6, 8, 12, 24)
PLAYER_ROWS_BUDGET = 600_000
CUSTOM_KEPT = 2  # the demo's 10-minute sprints: only the last few are worth an archive
DEMO_PACE = timedelta(minutes=(CUSTOM_KEPT + 1) * DEMO_SPRINT_MINUTES)  # covers the sprints kept
FINAL_LOOK = timedelta(seconds=1)  # the last snapshot of a race, just before its end
BATCH_RUNS = 100  # snapshots written together
TRIGGER = "demo_history"  # the sync runs' trigger, and the key that marks the history written
WORLD_START = "demo_world_start"  # app_state key: the instant the demo's world was first served
WORLD_KEPT = timedelta(days=7)  # an older world starts over (its roster grows with every day)


@dataclass(frozen=True, slots=True)
class Backfilled:
    """What a first start wrote."""

    days: int
    snapshots: int
    races: int  # finished and settled
    seconds: float


def demo_world(settings: Settings, start: datetime) -> Simulation:
    """The demo's simulated world at `start`. With DEMO_BACKFILL_DAYS its history reaches
    that far back, the last DEMO_PACE of it at the demo's speed (as if the demo had been
    running: its last sprints have players), and it stands rewound at its first instant."""
    days = settings.demo_backfill_days
    return Simulation(
        start=start - DEMO_PACE if days else start,
        players=settings.sim_players,
        seed=settings.sim_seed,
        speed=settings.sim_speed,
        history_from=start - timedelta(days=days) if days else None,
        rewound=bool(days),
    )


async def prepare_demo_world(
    settings: Settings,
    store: BoardStore,
    races: RaceStore,
    series: Sequence[Series],
    clock: Callable[[], datetime],
    *,
    history: bool,
) -> tuple[Simulation, Backfilled | None]:
    """The demo's world at its start (SIM_START, else the app's clock), and, with `history`
    on an empty database, its past written as snapshots and finished races."""
    now = clock()
    # SIM_START pins the world (the tests' data must not depend on the hour); otherwise the
    # world is the one first served from this database, carried on to now: a restart must not
    # send amounts back or leave a sprint under way below its players' baselines.
    anchor = settings.sim_start or await world_start(now)
    world = demo_world(settings, anchor)
    written = None
    try:
        if history and settings.demo_backfill_days:
            written = await backfill(world, anchor, now, settings.demo_backfill_days, store, races, series, settings.name_mask)
    finally:
        world.advance(settings.sim_start or now)  # where the served world begins, whatever was written
    if written is not None:
        log.info(
            "demo: backfilled %d days of simulated history (%d snapshots) and %d finished races in %.1f s",
            written.days, written.snapshots, written.races, written.seconds,
        )
    return world, written


async def world_start(now: datetime) -> datetime:
    """When the demo's world was first served from this database (kept in `app_state`; `now`
    on the first start, and again once the kept one is older than WORLD_KEPT or unreadable)."""
    await AppState.insert(AppState(key=WORLD_START, value=now.isoformat(), updated_at=now)).on_conflict(
        target=AppState.key, action="DO NOTHING"
    ).run()
    row = await AppState.select(AppState.value).where(AppState.key == WORLD_START).first().run()
    try:
        kept = datetime.fromisoformat(row["value"]) if row is not None else None
    except ValueError:
        kept = None
    if kept is not None and kept.tzinfo is not None and timedelta(0) <= now - kept <= WORLD_KEPT:
        if kept != now:
            log.info("demo: carrying on the simulated world first served at %s", kept.isoformat())
        return kept
    log.info("demo: the simulated world starts over at %s (the kept one was %s)", now.isoformat(), row and row["value"])
    await AppState.update({AppState.value: now.isoformat(), AppState.updated_at: now}).where(AppState.key == WORLD_START).run()
    return now


async def backfill(
    world: Simulation,
    start: datetime,
    now: datetime,
    days: int,
    store: BoardStore,
    races: RaceStore,
    series: Sequence[Series],
    names: NameMask = NameMask.OFF,
) -> Backfilled | None:
    """Write the `days` before `now` as the demo would have synced them, once: None when the
    database has snapshots already or another process is writing them.

    `world` stands rewound; the snapshot at app time t is the world at t + (start - now), so
    the last one is exactly the world the demo then serves. Everything goes in one
    transaction: a start interrupted half-way leaves an empty database, and starts again.
    """
    if await store.last_sync() is not None:
        return None
    began = time.perf_counter()
    first = now - timedelta(days=days)
    shift = start - now
    specs = finished_races(series, first, now) + running_sprints(series, first, now)
    instants = snapshot_instants(first, now, world.player_count, specs)
    standings_at = _standings_instants(instants, specs)
    async with store.engine.transaction():
        # The marker is written first: it takes the write lock (SQLite) or waits for another
        # worker's history to commit (PostgreSQL), so only one process writes it.
        claimed = (
            await AppState.insert(AppState(key=TRIGGER, value=f"{days} days to {now.isoformat()}", updated_at=now))
            .on_conflict(target=AppState.key, action="DO NOTHING")
            .returning(AppState.key)
            .run()
        )
        if not claimed or await store.last_sync() is not None:
            return None
        created: list[Race] = []
        for spec in specs:  # as the lifecycle does, one window ahead (or when the history begins)
            ahead = spec.starts_at - (spec.ends_at - spec.starts_at)
            created += await races.create_automatic([spec], max(first, ahead))
        unsettled: dict[int, Race] = {race.id: race for race in created}
        tracker = RaceTracker(races)
        rows = _RowDecoder()
        previous: Mapping[Period, Board] = {p: Board(p) for p in Period}
        players: Mapping[str, Player] = {}
        previous_at: datetime | None = None
        held = PendingWrites()
        for seq, at in enumerate(instants, 1):
            await _race_transitions(races, unsettled, at)
            world.advance(at + shift)
            outcome = stage(
                previous, players, rows.players(world.payload()),
                seq=seq, run_id=None, trigger=TRIGGER, started=at, previous_at=previous_at, at=at, timings={},
                names=names,
            )
            held.add(outcome.write)
            # Snapshots are written as a sync writes those held through an outage, many at
            # once; a race's standings only where someone can see them: its baseline, and
            # its last snapshots (the archived result and the places it moved from).
            race_step = at in standings_at
            if race_step or seq in (1, len(instants)) or len(held.runs) >= BATCH_RUNS:
                also = _standings(tracker, outcome) if race_step else None
                await store.commit_many(list(held.runs), list(held.players.values()), sorted(held.gone), list(held.history), also)
                held = PendingWrites()
            previous, players, previous_at = outcome.boards, outcome.players, at
    return Backfilled(days, len(instants), len(created) - len(unsettled), time.perf_counter() - began)


async def _race_transitions(races: RaceStore, unsettled: dict[int, Race], at: datetime) -> None:
    """What the race lifecycle does at `at`, in its order: end (and settle from the
    standings of the last snapshot before the end), then start."""
    for race in list(unsettled.values()):
        if due(race, at) is Transition.END:
            ended = await races.end(race.id, at)
            if ended is not None and await races.settle(race.id, Finalized.ON_TIME, at) is not None:
                del unsettled[race.id]
    for race in list(unsettled.values()):
        if due(race, at) is Transition.START:
            started = await races.start(race.id, at)
            if started is not None:
                unsettled[race.id] = started


def _standings_instants(instants: Sequence[datetime], specs: Sequence[RaceSpec]) -> set[datetime]:
    """The snapshots whose race standings are written: each race's first, and its last two
    before the end (the result, and the positions it shows the winners moving from)."""
    out: set[datetime] = set()
    for spec in specs:
        inside = [at for at in instants if spec.starts_at <= at < spec.ends_at]
        out.update(inside[:1] + inside[-2:])
    return out


def finished_races(series: Sequence[Series], first: datetime, now: datetime) -> list[RaceSpec]:
    """The automatic races that ended in (first, now]: every monthly and weekly one, the
    last few sprints. A custom race must start within the history (its growth is counted
    from its first snapshot); monthly and weekly ones count the upstream's period amounts,
    complete whenever they started."""
    specs: list[RaceSpec] = []
    for s in series:
        kept: list[RaceSpec] = []
        end = s.window(now)[0]  # the current window's start: where the last finished one ends
        while end > first and (s.kind is not RaceKind.CUSTOM or len(kept) < CUSTOM_KEPT):
            window = s.window(end - timedelta(microseconds=1))
            if s.kind is RaceKind.CUSTOM and window[0] < first:
                break
            kept.append(s.spec(window))
            end = window[0]
        specs.extend(reversed(kept))
    return specs


def running_sprints(series: Sequence[Series], first: datetime, now: datetime) -> list[RaceSpec]:
    """The sprints under way at `now` that started within the history: started on their own
    snapshot, their baseline is taken there, so they count every wager since their start (a
    sprint first seen by the live sync would count only what came after it, and still pay the
    whole pool). They stay live; the lifecycle ends them on time."""
    specs: list[RaceSpec] = []
    for s in series:
        if s.kind is RaceKind.CUSTOM:
            starts, ends = s.window(now)
            if first < starts < now < ends:
                specs.append(s.spec((starts, ends)))
    return specs


def history_step(span: timedelta, players: int) -> timedelta:
    """The time between backfilled snapshots for a history of `span` and `players` players."""
    for hours in STEPS_HOURS:
        step = timedelta(hours=hours)
        if span / step * max(players, 1) <= PLAYER_ROWS_BUDGET:
            return step
    return timedelta(hours=STEPS_HOURS[-1])


def snapshot_instants(first: datetime, now: datetime, players: int, specs: Sequence[RaceSpec]) -> list[datetime]:
    """When the history was synced: `first`, then every `history_step` on whole multiples
    of it (as the schedule syncs), and `now`; plus each race's start, end and the moment
    before its end, so races begin and finish on their own snapshots."""
    step = history_step(now - first, players).total_seconds()
    moments = {first, now}
    tick = (int(first.timestamp() // step) + 1) * step
    while tick < now.timestamp():
        moments.add(datetime.fromtimestamp(tick, UTC))
        tick += step
    for spec in specs:
        for moment in (spec.starts_at, spec.ends_at - FINAL_LOOK, spec.ends_at):
            if first < moment < now:
                moments.add(moment)
    return sorted(moments)


class _Rows(msgspec.Struct):
    data: list[msgspec.Raw]


_rows = msgspec.json.Decoder(_Rows)


class _RowDecoder:
    """The upstream edge's decode of each snapshot, done again only for the rows that
    changed: most rows of a snapshot an hour after the last are the same bytes. Rows are
    decoded one by one; the rule across rows (no uid twice) holds for the simulator's."""

    def __init__(self) -> None:
        self._known: dict[bytes, Player | None] = {}

    def players(self, body: bytes) -> list[Player]:
        known: dict[bytes, Player | None] = {}
        for raw in _rows.decode(body).data:
            row = bytes(raw)
            player = self._known.get(row, _UNSEEN)
            if player is _UNSEEN:
                decoded = decode(b'{"success":true,"data":[' + row + b"]}").players  # a refused row: none
                player = decoded[0] if decoded else None
            known[row] = player  # type: ignore[assignment]
        self._known = known
        return [p for p in known.values() if p is not None]


_UNSEEN = object()


def _standings(tracker: RaceTracker, outcome: SyncOutcome) -> Callable[[], Awaitable[None]]:
    """The races' part of a snapshot, run inside its write as a sync's steps are."""

    async def write() -> None:
        await tracker.write(outcome)

    return write


__all__ = ["Backfilled", "backfill", "demo_world", "finished_races", "history_step", "prepare_demo_world", "running_sprints", "snapshot_instants"]
