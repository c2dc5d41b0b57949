"""Races as one feature: its parts wired together, admin changes and the API's reads."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import msgspec

from server.errors import NotFound
from server.status import Part
from server.leaderboard.sync import SyncService
from server.races.calendar import Series, month_window, week_window
from server.races.countdown import seconds_left
from server.races.lifecycle import RaceLifecycle
from server.races.live import KEEP_FINISHED, TOP, LiveRaces
from server.races.messages import (
    RaceChanged,
    RaceEnded,
    RaceInfo,
    RaceStandingsUpdated,
    RaceStatusChanged,
)
from server.races.model import AuditEntry, InvalidRace, Race, RaceKind, RaceStatus, Winner, check_terms, validate_split
from server.races.standings import Standing
from server.races.standings_csv import standings_csv
from server.races.store import ADMIN, RaceStore
from server.races.tracker import RaceTracker
from server.realtime.hub import Hub

log = logging.getLogger(__name__)

# Fields an admin may change, by status (the issue: terms and dates while upcoming; while
# live only a later end; a typo in the title or rules can always be fixed before the end).
EDITABLE = {
    RaceStatus.UPCOMING: {"title", "description", "pool_cents", "split", "min_wager", "starts_at", "ends_at"},
    RaceStatus.LIVE: {"title", "description", "ends_at"},
}


class RaceDetail(msgspec.Struct, kw_only=True):
    """A race with a page of its standings (prizes included); `race` is null when there is none."""

    server_now: datetime
    race: RaceInfo | None
    seconds_left: int | None = None
    synced_at: datetime | None = None  # when the snapshot behind the standings was synced
    total: int = 0  # rows in the standings
    offset: int = 0
    limit: int = TOP
    standings: list[Standing] = []
    winners: list[Winner] = []  # set once an ended race's result is archived
    final_sha256: str | None = None  # SHA-256 of /api/races/{id}/final.json, once the result is archived


class RacePage(msgspec.Struct, kw_only=True):
    total: int
    offset: int
    limit: int
    races: list[RaceInfo]


class RacePlayer(msgspec.Struct, kw_only=True):
    """One player in one race."""

    race_id: int
    race_status: RaceStatus
    uid: str
    name: str
    position: int
    prev_position: int | None
    amount: float
    gap: float | None  # amount to make up to reach the place above; null in first place
    prize_cents: int  # prize if the race ended now (the archived prize once it has ended)
    qualified: bool
    min_wager: float


class RaceService:
    def __init__(
        self,
        store: RaceStore,
        hub: Hub,
        publish: Callable[[msgspec.Struct], Awaitable[None]],
        clock: Callable[[], datetime],
        series: list[Series],
        sync: SyncService | None,
    ) -> None:
        self.store = store
        self._publish = publish
        self._clock = clock
        self.live = LiveRaces(hub, clock, on_change=self._changed)
        self.tracker = RaceTracker(store)
        self.lifecycle = RaceLifecycle(
            store, self.live, self.tracker, publish, clock, series, sync.run_once if sync is not None else None
        )

    def _changed(self) -> None:
        self.lifecycle.wake()

    async def load(self) -> None:
        """Races from the database (start-up)."""
        self.live.load(*await self._stored())

    async def reload(self) -> None:
        """Races from the database after a gap; viewers get fresh snapshots."""
        self.live.reload(*await self._stored())

    async def _stored(self) -> tuple[list[Race], dict[int, tuple[Standing, ...]]]:
        races = await self.store.active_and_recent(KEEP_FINISHED)
        return races, await self.store.top_standings([r.id for r in races], TOP)

    def handlers(self) -> dict[type, Callable[[Any], None]]:
        """Event type -> what each process does with it (register with the relay)."""
        return {
            RaceChanged: self.live.on_changed,
            RaceStatusChanged: self.live.on_status,
            RaceStandingsUpdated: self.live.on_standings,
            RaceEnded: self.live.on_ended,
        }

    def health(self, lifecycle_running: bool, leader: bool = True) -> Part:
        """What /health says about races: is the lifecycle running (on the sync leader, which
        runs it), and can it reach the database."""
        current = self.live.current()
        info: dict[str, object] = {
            "current": current.race.id if current else None,
            "races": {str(r.id): r.status.value for r in self.live.races() if not r.status.final},
            "ticks_sent": self.live.ticks_sent,
            "lifecycle": "here" if leader else "on the sync leader",
        }
        if not leader:
            return Part(status="ok", info=info)
        if not lifecycle_running:
            return Part(status="degraded", detail="the race lifecycle is not running: races will not start or end on time", info=info)
        if self.lifecycle.last_error:
            return Part(
                status="degraded",
                detail=f"race lifecycle cannot reach the database ({self.lifecycle.last_error}); starts and ends wait for it",
                info=info,
            )
        return Part(status="ok", info=info)

    # ---- admin -------------------------------------------------------------------------

    async def create(
        self,
        *,
        title: str,
        kind: RaceKind,
        starts_at: datetime,
        ends_at: datetime,
        pool_cents: int,
        split: list[float],
        min_wager: float = 0.0,
        description: str = "",
        actor: str = ADMIN,
    ) -> Race:
        terms = {
            "title": title.strip(),
            "kind": kind,
            "starts_at": starts_at,
            "ends_at": ends_at,
            "pool_cents": pool_cents,
            "split": validate_split(split),
            "min_wager": min_wager,
            "description": description,
        }
        self._check(terms)
        terms["starts_at"], terms["ends_at"] = _utc(starts_at), _utc(ends_at)
        if terms["ends_at"] <= self._clock():
            raise InvalidRace("ends_at is in the past")
        race = await self.store.create(terms, self._clock(), actor)
        await self._publish(RaceChanged(race=race, reason="created"))
        return race

    async def edit(self, race_id: int, changes: dict[str, Any], actor: str = ADMIN) -> Race:
        race = await self._get(race_id)
        allowed = EDITABLE.get(race.status)
        if allowed is None:
            raise InvalidRace(f"race {race_id} is {race.status.value}; it can no longer be edited")
        refused = sorted(set(changes) - allowed)
        if refused:
            raise InvalidRace(f"race {race_id} is {race.status.value}: {', '.join(refused)} can only change before it starts")
        if "split" in changes:
            changes["split"] = validate_split(changes["split"])
        if "title" in changes:
            changes["title"] = changes["title"].strip()
        merged = {**msgspec.structs.asdict(race), **changes}
        self._check(merged)
        for field in ("starts_at", "ends_at"):
            if field in changes:
                changes[field] = _utc(changes[field])
        if "ends_at" in changes:
            if changes["ends_at"] <= self._clock():
                raise InvalidRace("ends_at is in the past")
            if race.status is RaceStatus.LIVE and changes["ends_at"] < race.ends_at:
                raise InvalidRace("a live race's end can only move later")
        if not changes:
            return race
        result = await self.store.edit(race_id, race.status, changes, self._clock(), actor)
        if result is None:
            raise InvalidRace(f"race {race_id} changed status meanwhile; reload it and try again")
        edited, changed = result
        if changed:
            await self._publish(RaceChanged(race=edited, reason="edited"))
        return edited

    async def cancel(self, race_id: int, actor: str = ADMIN) -> Race:
        race = await self._get(race_id)
        result = await self.store.cancel(race_id, self._clock(), actor)
        if result is None:
            raise InvalidRace(f"race {race_id} is {race.status.value}; only an upcoming or live race can be cancelled")
        cancelled, previous = result
        self.tracker.forget(race_id)
        log.info("race %d %r cancelled by %s (was %s)", race_id, race.title, actor, previous.value)
        await self._publish(RaceStatusChanged(race=cancelled, previous=previous, at=self._clock()))
        return cancelled

    @staticmethod
    def _check(terms: dict[str, Any]) -> None:
        kind = RaceKind(terms["kind"])
        window = None
        if kind is RaceKind.MONTHLY:
            window = month_window(terms["starts_at"])
        elif kind is RaceKind.WEEKLY:
            window = week_window(terms["starts_at"])
        check_terms(
            kind=kind,
            title=terms["title"],
            starts_at=terms["starts_at"],
            ends_at=terms["ends_at"],
            pool_cents=terms["pool_cents"],
            min_wager=terms["min_wager"],
            description=terms["description"],
            window=window,
        )

    # ---- reads -------------------------------------------------------------------------

    async def page(self, status: RaceStatus | None, limit: int, offset: int) -> RacePage:
        total, races = await self.store.page(status, limit, offset)
        return RacePage(total=total, offset=offset, limit=limit, races=[RaceInfo.of(r) for r in races])

    async def current(self, limit: int = TOP) -> RaceDetail:
        view = self.live.current()
        if view is None:
            return RaceDetail(server_now=self._clock(), race=None)
        return await self.detail(view.race.id, limit, 0)

    async def detail(self, race_id: int, limit: int = TOP, offset: int = 0) -> RaceDetail:
        race = await self._get(race_id)
        now = self._clock()
        return RaceDetail(
            server_now=now,
            race=RaceInfo.of(race),
            seconds_left=seconds_left(race, now),
            synced_at=race.standings_at,
            total=await self.store.standings_count(race_id),
            offset=offset,
            limit=limit,
            standings=await self.store.standings(race_id, limit, offset),
            winners=list(race.winners),
            final_sha256=race.final_sha256,
        )

    async def player(self, race_id: int, uid: str) -> RacePlayer:
        race = await self._get(race_id)
        row = await self.store.standing(race_id, uid)
        if row is None:
            raise NotFound(f"player {uid!r} has no wagers in race {race_id}")
        return RacePlayer(
            race_id=race_id,
            race_status=race.status,
            uid=row.uid,
            name=row.name,
            position=row.position,
            prev_position=row.prev_position,
            amount=row.amount,
            gap=row.gap,
            prize_cents=row.prize_cents,
            qualified=row.qualified,
            min_wager=race.min_wager,
        )

    async def audit(self, race_id: int) -> list[AuditEntry]:
        await self._get(race_id)
        return await self.store.audit(race_id)

    async def final_json(self, race_id: int) -> bytes:
        """The exact bytes whose SHA-256 is the race's `final_sha256`."""
        race = await self._get(race_id)
        text = await self.store.final_json(race_id) if race.final_sha256 else None
        if text is None:
            if race.finalized is not None:
                raise NotFound(f"race {race_id} was settled before final standings were archived: it has no final.json")
            raise NotFound(f"race {race_id} has no final result yet ({race.status.value}): it is archived when the race is settled")
        return text.encode()

    async def standings_csv(self, race_id: int) -> str:
        """The race's standings as CSV: the final ones once it has ended, else the current."""
        await self._get(race_id)
        return standings_csv(await self.store.standings(race_id))

    async def _get(self, race_id: int) -> Race:
        race = await self.store.get(race_id)
        if race is None:
            raise NotFound(f"no race with id {race_id}")
        return race


def _utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC)
