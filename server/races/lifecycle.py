"""The race lifecycle, run by every server process: automatic races, start at starts_at,
end at ends_at (to the second), then the final sync and the archived result; and the
once-a-second ticker."""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

import msgspec

from server.wakeup import Wakeup
from server.db.engine import DB_ERRORS
from server.errors import GoatedError
from server.races.calendar import Series, plan
from server.races.countdown import Transition, due, finalize_how, wake_delay
from server.races.live import TOP, LiveRaces
from server.races.messages import RaceChanged, RaceEnded, RaceStatusChanged
from server.races.model import Finalized, Race, RaceKind, RaceStatus
from server.races.store import RaceStore
from server.races.tracker import RaceTracker

log = logging.getLogger(__name__)

RECHECK = 30.0  # seconds between checks when nothing is due sooner (and to catch missed events)
RETRY = 5.0  # after a database error
FINAL_SYNC_TIMEOUT = 10.0  # how long the end waits for the upstream's last word
CATCH_UP_AFTER = timedelta(seconds=3)  # lost a transition to another process: reload if its event has not come
ORPHAN_AFTER = timedelta(seconds=FINAL_SYNC_TIMEOUT + 50)  # ended, never settled: the process that ended it died

SyncNow = Callable[[str], Awaitable[object]]


class RaceLifecycle:
    """Decides and applies transitions. Every process runs one; the store's conditional
    updates make each transition happen once, whoever gets there first."""

    def __init__(
        self,
        store: RaceStore,
        live: LiveRaces,
        tracker: RaceTracker,
        publish: Callable[[msgspec.Struct], Awaitable[None]],
        clock: Callable[[], datetime],
        series: list[Series],
        sync_now: SyncNow | None,
    ) -> None:
        self._store = store
        self._live = live
        self._tracker = tracker
        self._publish = publish
        self._clock = clock
        self._series = series
        self._sync_now = sync_now
        self.started_at = clock()
        self._wake = Wakeup()
        self._tasks: set[asyncio.Task[None]] = set()
        self._settling: set[int] = set()
        self._lost: dict[int, datetime] = {}  # race id -> when another process won its transition
        self.last_error: str | None = None
        self.last_error_at: datetime | None = None

    def wake(self) -> None:
        """Something changed (an admin edit, another process's event): decide again now."""
        self._wake.set()

    async def run(self) -> None:
        # Races that ended before this lifecycle ran (a restart, or this process taking over
        # as leader) ended while none was watching: no final sync, settled "on_startup".
        self.started_at = self._clock()
        try:
            while True:
                try:
                    decided_at = await self.step()
                    delay = self._next_delay(decided_at)
                    self.last_error = None
                except DB_ERRORS as exc:
                    self.last_error, self.last_error_at = f"{type(exc).__name__}: {exc}", self._clock()
                    log.error("race lifecycle: database unavailable (%s); retrying in %.0f s", self.last_error, RETRY)
                    delay = RETRY
                await self._wake.wait(delay)
        finally:
            await self.close()

    async def close(self) -> None:
        # A list: each task's done-callback takes it out of the set it was added to.
        tasks, self._tasks = list(self._tasks), set()
        for task in tasks:
            task.cancel()
        for task in tasks:
            try:
                await task
            except asyncio.CancelledError:
                pass

    async def drain(self) -> None:
        """Wait until the follow-ups of past transitions (start syncs, final syncs,
        archiving results) have finished."""
        # Only the unfinished ones: a finished task leaves the set in a done-callback, and a
        # gather of finished tasks returns without yielding to the loop that would run it.
        while pending := [task for task in self._tasks if not task.done()]:
            await asyncio.gather(*pending, return_exceptions=True)

    def _next_delay(self, decided_at: datetime) -> float:
        delay = wake_delay(self._live.races(), decided_at, self._clock(), RECHECK)
        if self._lost:
            delay = min(delay, CATCH_UP_AFTER.total_seconds())
        return max(delay, 0.0)

    # ---- one decision round ----------------------------------------------------------

    async def step(self) -> datetime:
        """Make every transition due now; returns the instant it decided at."""
        now = self._clock()
        await self._catch_up(now)
        await self.ensure_automatic(now)
        # Ends before starts: a sprint ending at :10 and the next starting at :10 then share
        # one sync, the final one of the first and the baseline of the second.
        for race in self._live.races():
            if due(race, now) is Transition.END:
                await self._end(race, now)
        for race in self._live.races():
            if due(race, now) is Transition.START:
                await self._start(race, now)
        for race in self._live.races():
            if due(race, now) is Transition.END:  # started and ended while every server was down
                await self._end(race, now)
        await self._settle_orphans(now)
        return now

    async def ensure_automatic(self, now: datetime) -> list[Race]:
        """Create the automatic races that should exist (current and next of each series)."""
        specs = plan(self._series, now)
        if not specs:
            return []
        known = {r.auto_key for r in self._live.races() if r.auto_key}
        missing = [s for s in specs if s.auto_key not in known]
        if missing:
            existing = await self._store.existing_auto_keys([s.auto_key for s in missing])
            missing = [s for s in missing if s.auto_key not in existing]
        created = await self._store.create_automatic(missing, now) if missing else []
        for race in created:
            log.info("created automatic race %d %r (%s to %s)", race.id, race.title, race.starts_at, race.ends_at)
            await self._publish(RaceChanged(race=race, reason="created"))
        return created

    async def _start(self, race: Race, now: datetime) -> None:
        started = await self._store.start(race.id, now)
        if started is None:
            self._lost.setdefault(race.id, now)
            return
        log.info("race %d %r is live", race.id, race.title)
        await self._publish(RaceStatusChanged(race=started, previous=RaceStatus.UPCOMING, at=now))
        if started.kind is RaceKind.CUSTOM and self._sync_now is not None:
            # The baseline is the first snapshot synced at or after the start: get one now.
            self._spawn(self._sync_quietly("race_start"), f"race-{race.id}-start-sync")

    async def _end(self, race: Race, now: datetime) -> None:
        ended = await self._store.end(race.id, now)
        if ended is None:
            self._lost.setdefault(race.id, now)
            return
        how = finalize_how(race, self.started_at)
        log.info("race %d %r ended at %s (%s)", race.id, race.title, now.isoformat(), how.value)
        await self._publish(RaceStatusChanged(race=ended, previous=RaceStatus.LIVE, at=now))
        self._settling.add(race.id)
        self._spawn(self._final_sync_and_settle(race.id, how), f"race-{race.id}-settle")

    async def _final_sync_and_settle(self, race_id: int, how: Finalized) -> None:
        try:
            if how is Finalized.ON_TIME and self._sync_now is not None:
                self._tracker.finalizing.add(race_id)
                try:
                    await self._final_sync()
                finally:
                    self._tracker.finalizing.discard(race_id)
            await self.settle(race_id, how)
        except DB_ERRORS as exc:
            # Left unsettled: a later step (here or on another process) settles it.
            log.error("race %d: could not archive the result (%s: %s); will retry", race_id, type(exc).__name__, exc)
        finally:
            self._settling.discard(race_id)

    async def _final_sync(self) -> None:
        """One last sync, if the upstream answers within FINAL_SYNC_TIMEOUT; otherwise the
        result is the last sync before the end (the sync itself is left to finish)."""
        assert self._sync_now is not None
        task = asyncio.ensure_future(self._sync_quietly("race_end"))
        self._tasks.add(task)  # type: ignore[arg-type]
        task.add_done_callback(self._tasks.discard)  # type: ignore[arg-type]
        try:
            await asyncio.wait_for(asyncio.shield(task), FINAL_SYNC_TIMEOUT)
        except TimeoutError:
            log.warning("final sync did not finish within %.0f s: the result is the last sync before the end", FINAL_SYNC_TIMEOUT)

    async def settle(self, race_id: int, how: Finalized) -> Race | None:
        """Archive the result and announce the winners; None if another process did."""
        settled = await self._store.settle(race_id, how, self._clock())
        if settled is None:
            return None
        race, standings = settled
        self._tracker.forget(race_id)
        log.info("race %d %r settled (%s): %d winner(s)", race.id, race.title, how.value, len(race.winners))
        await self._publish(RaceEnded(race=race, at=self._clock(), standings=tuple(standings[:TOP])))
        return race

    async def _settle_orphans(self, now: datetime) -> None:
        """Races ended but never settled: the process ending them stopped mid-way. Settle
        them from the stored standings (on_startup, as after a restart)."""
        for race in self._live.races():
            if race.status is RaceStatus.ENDED and race.finalized is None and race.id not in self._settling:
                ended_at = race.updated_at or race.ends_at
                if ended_at < self.started_at or now - ended_at >= ORPHAN_AFTER:
                    if await self.settle(race.id, Finalized.ON_STARTUP) is None:
                        self._lost.setdefault(race.id, now - CATCH_UP_AFTER)  # settled elsewhere: reload it

    async def _catch_up(self, now: datetime) -> None:
        """Another process made a transition we tried; if its event has not reached us
        (no shared channels backend, or it was lost), take the race from the database."""
        for race_id, lost_at in list(self._lost.items()):
            if now - lost_at < CATCH_UP_AFTER:
                continue
            del self._lost[race_id]
            view = self._live.view(race_id)
            race = await self._store.get(race_id)
            if race is None or view is None or race.version <= view.race.version:
                continue
            if race.status is RaceStatus.ENDED and race.finalized is not None:
                top = await self._store.top_standings([race_id], TOP)
                self._live.on_ended(RaceEnded(race=race, at=race.finalized_at or now, standings=top[race_id]))
            elif race.status is not view.race.status:
                self._live.on_status(RaceStatusChanged(race=race, previous=view.race.status, at=race.updated_at or now))
            else:
                self._live.on_changed(RaceChanged(race=race, reason="edited"))

    async def _sync_quietly(self, trigger: str) -> None:
        assert self._sync_now is not None
        try:
            await self._sync_now(trigger)
        except GoatedError as exc:
            log.warning("%s sync failed: %s", trigger, exc)
        except DB_ERRORS as exc:
            log.warning("%s sync failed, database unavailable: %s: %s", trigger, type(exc).__name__, exc)

    def _spawn(self, coro: Awaitable[None], name: str) -> None:
        task = asyncio.ensure_future(coro)
        task.set_name(name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


TICK_AFTER = 0.005  # aim this far past the wall second: a wake-up slightly early (clock slew, timer rounding) still lands in it


async def run_ticker(live: LiveRaces, clock: Callable[[], datetime], sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> None:
    """Tick once per wall-clock second of this process's clock, just after it begins. Ticks
    never go through the channels backend: each process ticks for its own viewers."""
    loop = asyncio.get_running_loop()
    last = math.floor(clock().timestamp())  # the wall second last ticked; the first tick is the next one
    while True:
        now = clock()
        wall = now.timestamp()
        second = math.floor(wall)
        if second <= last:
            # Woken before the next second (or the wall clock stepped back): never tick a second
            # twice. The wall clock and the loop's monotonic one drift apart, so the deadline is
            # set on the loop's clock from their offset measured now, not from an earlier reading.
            deadline = (last + 1 + TICK_AFTER) - (wall - loop.time())
            await sleep(deadline - loop.time())
            continue
        if second > last + 1:
            # The loop (or the wall clock) jumped past whole seconds: those ticks are gone, and
            # ticking them now would only count down in a burst. Tick the current second.
            log.warning("race ticker: %.1f s late, skipped the ticks of %d second(s)", wall - (last + 1), second - last - 1)
        live.tick(now)
        last = second
