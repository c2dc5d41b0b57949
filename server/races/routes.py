"""HTTP API for races: public reads and the admin's create, edit and cancel."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import msgspec
from litestar import Controller, Response, get, patch, post
from litestar.datastructures import State
from litestar.params import PathParameter, FromPath, JSONBody, Parameter

from server.admin import admin_guard
from server.params import Offset, SerialId
from server.leaderboard.identity import UID_MAX, is_uid
from server.errors import BadRequest
from server.races.live import TOP
from server.races.messages import RaceInfo
from server.races.model import AuditEntry, RaceKind, RaceStatus
from server.races.service import RaceDetail, RacePage, RacePlayer, RaceService
from server.races.store import ADMIN

MAX_LIMIT = 1000



# Ids are 64-bit in the database; a larger number is a 400, not an overflow.
RaceId = SerialId

class RaceCreate(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    title: str
    starts_at: datetime  # with a UTC offset, e.g. 2026-12-01T18:00:00Z
    ends_at: datetime
    pool_cents: int
    split: list[float]  # percent per place, first place first: [50, 30, 20]
    kind: RaceKind = RaceKind.CUSTOM
    min_wager: float = 0.0
    description: str = ""


class RacePatch(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Only the fields sent change. Upcoming: anything; live: title, description and a later ends_at."""

    title: str | msgspec.UnsetType = msgspec.UNSET
    description: str | msgspec.UnsetType = msgspec.UNSET
    pool_cents: int | msgspec.UnsetType = msgspec.UNSET
    split: list[float] | msgspec.UnsetType = msgspec.UNSET
    min_wager: float | msgspec.UnsetType = msgspec.UNSET
    starts_at: datetime | msgspec.UnsetType = msgspec.UNSET
    ends_at: datetime | msgspec.UnsetType = msgspec.UNSET

    def changes(self) -> dict[str, object]:
        return {f: v for f in self.__struct_fields__ if (v := getattr(self, f)) is not msgspec.UNSET}


def _races(state: State) -> RaceService:
    return state.services.races


def _parse_status(value: str | None) -> RaceStatus | None:
    if value is None:
        return None
    try:
        return RaceStatus(value)
    except ValueError:
        raise BadRequest(f"unknown status {value!r}; use one of: {', '.join(s.value for s in RaceStatus)}") from None


class RaceController(Controller):
    path = "/api/races"
    tags = ["races"]

    @get("/", summary="Races: upcoming first, then live, then past (newest start first)")
    async def races(
        self,
        state: State,
        status: Annotated[str | None, Parameter(description="upcoming, live, ended or cancelled")] = None,
        limit: Annotated[int, Parameter(ge=1, le=100)] = 20,
        offset: Offset = 0,
    ) -> RacePage:
        return await _races(state).page(_parse_status(status), limit, offset)

    @get("/current", summary="The race race:current shows (race is null when there is none)", cache=False)
    async def current(self, state: State, limit: Annotated[int, Parameter(ge=1, le=MAX_LIMIT)] = TOP) -> RaceDetail:
        return await _races(state).current(limit)

    @get("/{race_id:int}", summary="A race with its standings and prizes (the archived result once ended)", cache=False)
    async def race(
        self,
        state: State,
        race_id: RaceId,
        limit: Annotated[int, Parameter(ge=1, le=MAX_LIMIT)] = TOP,
        offset: Offset = 0,
    ) -> RaceDetail:
        return await _races(state).detail(race_id, limit, offset)

    @get(
        "/{race_id:int}/final.json",
        summary="The final standings' canonical JSON: its SHA-256 is the race's final_sha256 (404 until settled)",
        description="Exactly the bytes hashed when the race was settled: `curl -s …/final.json | sha256sum` "
        "prints final_sha256. The form, to rebuild it yourself: docs/races.md.",
        media_type="application/json",
        cache=False,
    )
    async def final(self, state: State, race_id: RaceId) -> Response[bytes]:
        return Response(await _races(state).final_json(race_id), media_type="application/json")

    @get(
        "/{race_id:int}/standings.csv",
        summary="The standings as CSV: final once the race has ended, else as of the last sync",
        description="Columns position, uid, name, amount_usd, prize_usd. A uid or name starting with "
        "= + - @ tab or CR is written with a leading apostrophe, so spreadsheets show it as text.",
        media_type="text/csv",
        cache=False,
    )
    async def standings_csv(self, state: State, race_id: RaceId) -> Response[str]:
        return Response(
            await _races(state).standings_csv(race_id),
            media_type="text/csv",
            headers={"Content-Disposition": f'attachment; filename="race-{race_id}-standings.csv"'},
        )

    @get("/{race_id:int}/audit", summary="Every change made to a race, oldest first (who, when, what from and to)", cache=False)
    async def audit(self, state: State, race_id: RaceId) -> list[AuditEntry]:
        return await _races(state).audit(race_id)

    @get("/{race_id:int}/players/{uid:str}", summary="One player's place in a race", cache=False)
    async def player(self, state: State, race_id: RaceId, uid: FromPath[str]) -> RacePlayer:
        if not is_uid(uid):
            raise BadRequest(f"uid must be 1-{UID_MAX} of A-Z a-z 0-9 - _")
        return await _races(state).player(race_id, uid)


class AdminRaceController(Controller):
    path = "/api/admin/races"
    tags = ["admin"]
    guards = [admin_guard]

    @post("/", summary="Create a race", status_code=201)
    async def create(self, state: State, data: JSONBody[RaceCreate]) -> RaceInfo:
        race = await _races(state).create(**msgspec.structs.asdict(data), actor=ADMIN)
        return RaceInfo.of(race)

    @patch("/{race_id:int}", summary="Edit a race (terms while upcoming; a later end while live)")
    async def edit(self, state: State, race_id: RaceId, data: JSONBody[RacePatch]) -> RaceInfo:
        race = await _races(state).edit(race_id, data.changes(), actor=ADMIN)
        return RaceInfo.of(race)

    @post("/{race_id:int}/cancel", summary="Cancel an upcoming or live race", status_code=200)
    async def cancel(self, state: State, race_id: RaceId) -> RaceInfo:
        return RaceInfo.of(await _races(state).cancel(race_id, actor=ADMIN))
