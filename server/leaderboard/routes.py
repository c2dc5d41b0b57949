"""HTTP API for boards and players, served from memory."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import msgspec
from litestar import Controller, Response, get
from litestar.datastructures import State
from litestar.params import FromPath, Parameter

from server.params import Offset
from server.leaderboard.identity import UID_MAX, is_uid
from server.errors import BadRequest, NotFound
from server.leaderboard.board import Period
from server.leaderboard.live import LiveBoards
from server.leaderboard.privacy import public_name
from server.leaderboard.search import QUERY_MAX, search_key
from server.leaderboard.store import BoardStore
from server.leaderboard.messages import BoardRow

MAX_LIMIT = 1000
Q_DESCRIPTION = "name contains, ignoring case, width and spacing (true ranks kept); blank: everyone"


class LeaderboardPage(msgspec.Struct, kw_only=True):
    period: Period
    seq: int
    sync_id: int | None
    synced_at: datetime | None
    total: int  # players on the board
    matched: int  # players matching `q` (equals total without a query)
    offset: int
    limit: int
    rows: list[BoardRow]


class PeriodStanding(msgspec.Struct, kw_only=True):
    period: Period
    rank: int | None
    amount: float
    prev_rank: int | None


class HistoryPointOut(msgspec.Struct, kw_only=True):
    period: Period
    rank: int | None
    amount: float
    at: datetime


class PlayerOut(msgspec.Struct, kw_only=True):
    uid: str
    name: str
    first_seen: datetime | None
    last_seen: datetime | None
    gone: bool
    standings: list[PeriodStanding]
    history: list[HistoryPointOut]


def data_age_headers(live: LiveBoards, now: datetime) -> dict[str, str]:
    """How old the served board is at `now` (the app's clock): `Age` in seconds since its
    sync (absent before any)."""
    if live.synced_at is None:
        return {"X-Data-Status": "no-sync-yet"}
    age = max(0, int((now - live.synced_at).total_seconds()))
    return {"Age": str(age), "X-Synced-At": live.synced_at.isoformat()}


def parse_period(value: str) -> Period:
    try:
        return Period(value)
    except ValueError:
        raise BadRequest(
            f"unknown period {value!r}; use one of: {', '.join(p.value for p in Period)}"
        ) from None


class PageCache:
    """Encoded pages for the current board version; cleared when the version moves."""

    def __init__(self, live: LiveBoards, size: int = 64) -> None:
        self._live = live
        self._size = size
        self._seq = -1
        self._pages: dict[tuple[Period, int, int], bytes] = {}

    def page(self, period: Period, limit: int, offset: int, q: str | None) -> bytes:
        """A page of the board, or of the players whose name matches `q` (see
        `search.matches`); a blank `q` is the whole board."""
        live = self._live
        if live.seq != self._seq:
            self._pages.clear()
            self._seq = live.seq
        needle = search_key(q or "")
        key = (period, limit, offset)
        if not needle and (cached := self._pages.get(key)) is not None:
            return cached
        rows = live.search(period, needle)
        body = msgspec.json.encode(
            LeaderboardPage(
                period=period,
                seq=live.seq,
                sync_id=live.sync_id,
                synced_at=live.synced_at,
                total=live.board(period).total,
                matched=len(rows),
                offset=offset,
                limit=limit,
                rows=live.rows(period, rows[offset : offset + limit]),
            )
        )
        if not needle and len(self._pages) < self._size:
            self._pages[key] = body
        return body


class LeaderboardController(Controller):
    path = "/api"
    tags = ["leaderboard"]

    @get("/leaderboard/{period:str}", summary="A period's ranked board")
    async def leaderboard(
        self,
        state: State,
        period: FromPath[str],
        limit: Annotated[int, Parameter(ge=1, le=MAX_LIMIT, description="rows per page")] = 100,
        offset: Offset = 0,
        q: Annotated[str | None, Parameter(max_length=QUERY_MAX, description=Q_DESCRIPTION)] = None,
    ) -> Response[LeaderboardPage]:
        body = state.page_cache.page(parse_period(period), limit, offset, q)
        return Response(body, media_type="application/json", headers=data_age_headers(state.live, state.services.clock()))

    @get("/players/{uid:str}", summary="A player's standings and history")
    async def player(self, state: State, uid: FromPath[str]) -> PlayerOut:
        if not is_uid(uid):
            raise BadRequest(f"uid must be 1-{UID_MAX} of A-Z a-z 0-9 - _")
        live: LiveBoards = state.live
        store: BoardStore = state.store
        record = await store.player(uid)
        if record is None:
            raise NotFound(f"no player with uid {uid!r}")
        history = await store.history(uid)
        standings = []
        for period in Period:
            row = live.row(period, uid)
            standings.append(
                PeriodStanding(
                    period=period,
                    rank=row.rank if row else None,
                    amount=row.amount if row else 0.0,
                    prev_rank=live.prev_rank(period, uid),
                )
            )
        return PlayerOut(
            uid=uid,
            name=public_name(record["name"], state.services.settings.name_mask),
            first_seen=record["first_seen"],
            last_seen=record["last_seen"],
            gone=record["gone_at"] is not None,
            standings=standings,
            history=[HistoryPointOut(period=Period(h["period"]), rank=h["rank"], amount=h["amount"], at=h["at"]) for h in history],
        )
