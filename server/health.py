"""`/health`: what works, what is degraded and why, in words an operator can act on."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any

from litestar import Response, get
from litestar.datastructures import State

from server.status import HealthReport, Part, Status

# The report reads the app's `Services` (server/services.py), which imports this module to
# answer the bot's /status: typed as Any here so the two do not import each other.
Services = Any

def overall(parts: dict[str, Part]) -> Status:
    """`down` only when there is nothing to serve; a part down with a board in memory is
    `degraded`: viewers still get the last good board."""
    statuses = {p.status for p in parts.values()} - {"off"}
    if statuses <= {"ok"}:
        return "ok"
    if parts["sync"].info.get("seq", 0) == 0 and "down" in statuses:
        return "down"
    return "degraded"


@get("/health", summary="Health of each part", tags=["operations"], cache=False)
async def health(state: State) -> Response[HealthReport]:
    report = await build_report(state.services)
    return Response(report, status_code=200 if report.status != "down" else 503)


async def build_report(services: Services) -> HealthReport:
    """Every part's state now (also what the bot's /status shows)."""
    now = services.clock()  # the time synced_at and the rest were written with
    parts = {
        "database": await _database(services),
        "channels": services.channels_health(),
        "upstream": _upstream(services, now),
        "sync": _sync(services, now),
        "websockets": Part(
            status="ok",
            info={"connections": len(services.hub.connections), "channels": services.hub.channel_counts()},
        ),
        "presence": services.presence.health(services.supervisor.running("presence")),
        "races": services.races.health(services.supervisor.running("race_lifecycle"), services.is_leader),
        "tasks": _tasks(services),
    }
    if services.telegram is not None:
        parts["telegram"] = await services.telegram.health(now)
    return HealthReport(status=overall(parts), mode=services.mode, now=now, parts=parts)


async def _database(services: Services) -> Part:
    kind = "postgresql" if services.settings.is_postgres else "sqlite"
    pending, db = services.sync.pending, services.sync.database
    if not db.ok:
        return Part(
            status="down",
            detail=f"{kind} unreachable since {db.last_error_at:%H:%M:%S} UTC "
            f"({db.last_error}); syncs go on and their writes are held in memory",
            info={"kind": kind, "held": pending.summary()},
        )
    try:
        async with asyncio.timeout(2):
            await services.store.ping()
    except TimeoutError:
        return Part(status="down", detail=f"{kind} did not answer within 2 s", info={"kind": kind})
    except services.db_errors as exc:
        return Part(status="down", detail=f"{kind} unreachable: {type(exc).__name__}: {exc}", info={"kind": kind})
    if db.refused_rows:
        # The database is up; some values in the data were refused and left out of storage.
        return Part(
            status="degraded",
            detail=f"{kind} refused {len(db.refused_rows)} row(s) at {db.refused_at:%H:%M:%S} UTC and they were "
            f"set aside (the rest is stored): {db.refused_rows[0]}",
            info={"kind": kind, "refused_rows": list(db.refused_rows), "refused_total": db.refused_total},
        )
    return Part(status="ok", info={"kind": kind, "refused_total": db.refused_total})


def _upstream(services: Services, now: datetime) -> Part:
    up = services.sync.upstream
    resilient = services.upstream
    info: dict[str, object] = {
        "url": "built-in simulator" if services.settings.demo else services.client.url,
        "last_success_at": up.last_success_at,
        "last_error": up.last_error,
        "last_error_at": up.last_error_at,
        "consecutive_failures": up.consecutive_failures,
        "last_latency_s": up.last_latency,
        "circuit_breaker": resilient.breaker_state(),
        "rate_limited_for_s": round(resilient.rate_limited_for(), 1),
        "refused_rows": up.refused_rows,
        "refused_rows_total": dict(up.refused_total),
    }
    if not services.settings.demo:
        info["token"] = services.token.status(now)
    warning = None if services.settings.demo else services.token.warning(now)
    if up.last_error_kind == "auth":
        return Part(
            status="down",
            detail="the upstream refused the token (401/403): it expired or was revoked. "
            "Set a new one: PUT /api/admin/upstream-token, or GOATED_TOKEN and restart",
            info=info,
        )
    if resilient.breaker.current_state == "open":
        return Part(status="down", detail=f"circuit open: the upstream failed {resilient.breaker.fail_counter} times in a row ({up.last_error})", info=info)
    if up.consecutive_failures:
        return Part(status="degraded", detail=f"last {up.consecutive_failures} sync(s) failed: {up.last_error}", info=info)
    if warning:
        return Part(status="degraded", detail=warning, info=info)
    if up.refused_rows:
        # Every other row is served: the board is right but for these; say which and why.
        info["refused_examples"] = list(up.refused_examples)
        return Part(
            status="degraded",
            detail=f"the last sync refused {up.refused_rows} upstream row(s) that break the row rules "
            f"(docs/upstream.md): {up.refused_examples[0]}",
            info=info,
        )
    return Part(status="ok", info=info)


def _sync(services: Services, now: datetime) -> Part:
    live = services.live
    interval = services.settings.interval
    info: dict[str, object] = {"seq": live.seq, "sync_id": live.sync_id, "synced_at": live.synced_at, "interval_s": interval}
    if services.leadership is not None:
        info["leader"] = services.leadership.is_leader
        info["election"] = services.leadership.kind
    if live.synced_at is None:
        return Part(status="degraded", detail="no successful sync yet", info=info)
    age = (now - live.synced_at).total_seconds()
    info["age_s"] = round(age, 1)
    if age > 3 * interval + 60:
        return Part(status="degraded", detail=f"board is {age:.0f} s old (syncs every {interval:.0f} s)", info=info)
    return Part(status="ok", info=info)


def _tasks(services: Services) -> Part:
    """Every supervised task: running, restarting after a failure, finished or stopped."""
    states = services.supervisor.states()
    info: dict[str, object] = {
        state.name: {
            "status": state.status,
            "restarts": state.restarts,
            "last_error": state.last_error,
            "last_error_at": state.last_error_at,
        }
        for state in states
    }
    troubled = [s for s in states if s.status in ("restarting", "finished")]
    if troubled:
        first = troubled[0]
        what = f"restarting after {first.last_error}" if first.status == "restarting" else "ended on its own"
        return Part(status="degraded", detail=f"task {first.name} is {what}", info=info)
    return Part(status="ok", info=info)
