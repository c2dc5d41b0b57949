"""The admin API's lock (a bearer token, `ADMIN_TOKEN`) and its general routes."""

from __future__ import annotations

import hmac
from datetime import datetime

import msgspec
from litestar import Controller, Response, get, post
from litestar.connection import ASGIConnection
from litestar.datastructures import State
from litestar.exceptions import NotAuthorizedException, ServiceUnavailableException
from litestar.handlers.base import BaseRouteHandler

DISABLED = "the admin API is disabled: set ADMIN_TOKEN to enable it"


def admin_guard(connection: ASGIConnection, _: BaseRouteHandler) -> None:
    """Let a request through only with `Authorization: Bearer <ADMIN_TOKEN>`.

    401 without the header or with another token (compared in constant time); 503 when no
    ADMIN_TOKEN is configured, so an unset token never means an open door.
    """
    expected = connection.app.state.services.settings.admin_token
    if not expected:
        raise ServiceUnavailableException(DISABLED)
    scheme, _, given = connection.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), expected.encode()):
        raise NotAuthorizedException(
            "admin token missing or wrong: send Authorization: Bearer <ADMIN_TOKEN>",
            headers={"WWW-Authenticate": 'Bearer realm="goated-admin"'},
        )


class AdminStatus(msgspec.Struct, kw_only=True):
    enabled: bool  # False: no ADMIN_TOKEN is set, and every admin call answers 503
    demo: bool  # demo mode: `goated serve` generated this run's token and printed it


@get("/api/admin/status", summary="Whether the admin API is on (asks for no token)", tags=["admin"], cache=False)
async def admin_status(state: State) -> AdminStatus:
    settings = state.services.settings
    return AdminStatus(enabled=bool(settings.admin_token), demo=settings.demo)


class SyncOut(msgspec.Struct, kw_only=True):
    run_id: int | None
    status: str  # ok | failed | refused | requested (another replica leads the syncs)
    players: int
    changes: int
    seq: int | None
    error: str | None
    stored: bool  # False: the database was down; the writes are held in memory
    timings: dict[str, float]
    finished_at: datetime | None = None


class AdminController(Controller):
    path = "/api/admin"
    tags = ["admin"]
    guards = [admin_guard]

    @post("/sync", summary="Sync the upstream now", status_code=200)
    async def sync_now(self, state: State) -> Response[SyncOut]:
        result = await state.services.request_sync("admin")
        if result is None:
            # Another replica leads: it was asked through the channels and syncs shortly.
            return Response(
                SyncOut(run_id=None, status="requested", players=0, changes=0, seq=None, error=None, stored=True, timings={}),
                status_code=202,
            )
        return Response(SyncOut(
            run_id=result.run_id,
            status=result.status,
            players=result.players,
            changes=result.changes,
            seq=result.seq,
            error=result.error,
            stored=result.stored,
            timings=result.timings,
            finished_at=state.services.sync.upstream.last_success_at if result.status == "ok" else None,
        ))
