"""The simulated upstream over HTTP: Goated's leaderboard endpoint, switchable faults, controls."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from http import HTTPStatus
from typing import Annotated, Any

import msgspec
import uvicorn
from litestar import Litestar, Request, Response, delete, get, post
from litestar.enums import MediaType
from litestar.params import FromPath, JSONBody

from server.logs import DeferringLoggingConfig
from server.upstream.simulator import Simulation

__all__ = ["FaultMode", "FaultSpec", "Faults", "create_sim_app", "running_from", "serve_sim"]

_LEADERBOARD_PATH = "/affiliate/referral-leaderboard/{code:str}"
_TRUNCATED_SHARE = 0.3
_MAX_JUMP_SECONDS = 366 * 86_400.0


class FaultMode(StrEnum):
    """How the next leaderboard responses misbehave."""

    NONE = "none"
    ERROR = "error"  # `status` (503 by default) with a non-JSON body
    UNAUTHORIZED = "unauthorized"  # 401: the daily token expired
    FORBIDDEN = "forbidden"  # 403: the token was revoked
    RATE_LIMIT = "rate_limit"  # 429 with Retry-After: `retry_after`
    TIMEOUT = "timeout"  # answer normally after `delay` seconds
    MALFORMED = "malformed"  # 200 whose body is cut mid-JSON
    WRONG_SHAPE = "wrong_shape"  # 200, valid JSON, entries without `wagered`
    EMPTY = "empty"  # 200, success with `data: []`
    TRUNCATED = "truncated"  # 200 with only the first 30% of the list


class FaultSpec(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """A fault to inject: the body of POST /_sim/faults. `count` None lasts until cleared."""

    mode: FaultMode
    count: Annotated[int, msgspec.Meta(ge=1)] | None = None
    status: Annotated[int, msgspec.Meta(ge=400, le=599)] = 503
    retry_after: Annotated[int, msgspec.Meta(ge=0)] = 3
    delay: Annotated[float, msgspec.Meta(ge=0, le=600)] = 5.0


class Faults:
    """The fault currently injected and how many more leaderboard requests it affects."""

    def __init__(self) -> None:
        self._spec: FaultSpec | None = None
        self._remaining: int | None = None

    @property
    def current(self) -> FaultSpec | None:
        return self._spec

    @property
    def remaining(self) -> int | None:
        """Requests left before the fault clears itself; None means until cleared."""
        return self._remaining

    def set(self, spec: FaultSpec) -> None:
        if spec.mode is FaultMode.NONE:
            self.clear()
            return
        self._spec = spec
        self._remaining = spec.count

    def clear(self) -> None:
        self._spec = None
        self._remaining = None

    def take(self) -> FaultSpec | None:
        """The fault for one request, counting it against `count`."""
        spec = self._spec
        if spec is not None and self._remaining is not None:
            self._remaining -= 1
            if self._remaining == 0:
                self.clear()
        return spec


class AdvanceBody(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    seconds: Annotated[float, msgspec.Meta(ge=0, le=_MAX_JUMP_SECONDS)]


class RenameBody(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    uid: str
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=64)]


class WagerBody(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    uid: str
    amount: Annotated[float, msgspec.Meta(gt=0, le=1e12)]


class FaultState(msgspec.Struct, frozen=True):
    mode: FaultMode
    remaining: int | None
    status: int
    retry_after: int
    delay: float


class SimState(msgspec.Struct, frozen=True):
    """The body of GET /_sim/state."""

    players: int
    now: datetime
    offset_seconds: float
    speed: float
    fault: FaultState | None


def _utc_now() -> datetime:
    return datetime.now(UTC)


def running_from(start: datetime, *, wall: Callable[[], datetime] = _utc_now) -> Callable[[], datetime]:
    """A clock that reads `start` now and runs on as `wall` time passes.

    The simulated world's time: it begins at the simulation's start, wherever the wall clock
    is, so a world started at a fixed instant does not jump to the wall clock's day, week and
    month on its first request.
    """
    origin = wall()

    def clock() -> datetime:
        return start + (wall() - origin)

    return clock


@dataclass
class _World:
    """What the handlers share: the simulation, its clock and the injected fault."""

    simulation: Simulation
    clock: Callable[[], datetime]
    faults: Faults = field(default_factory=Faults)
    offset: timedelta = timedelta(0)

    def catch_up(self) -> None:
        self.simulation.advance(self.clock() + self.offset)

    def state(self) -> SimState:
        spec = self.faults.current
        fault = None
        if spec is not None:
            fault = FaultState(
                spec.mode, self.faults.remaining, spec.status, spec.retry_after, spec.delay
            )
        sim = self.simulation
        return SimState(sim.player_count, sim.now, self.offset.total_seconds(), sim.speed, fault)


def create_sim_app(
    simulation: Simulation,
    *,
    token: str | None = None,
    clock: Callable[[], datetime] | None = None,
    affiliate_code: str | None = None,
) -> Litestar:
    """An app serving `simulation` as Goated's referral leaderboard, plus /_sim/* controls.

    `clock` is the simulated world's time; by default it runs on from the simulation's current
    time (`running_from(simulation.now)`), whatever the wall clock says. With `token` set, the
    leaderboard requires `Authorization: Bearer <token>`; with `affiliate_code` set, other
    codes get 404. The controls need no token: never expose this app beyond a demo or a test.
    """
    world = _World(simulation, clock if clock is not None else running_from(simulation.now))

    @get(_LEADERBOARD_PATH)
    async def leaderboard(request: Request[Any, Any, Any], code: FromPath[str]) -> Response[Any]:
        if token is not None and not _bearer_matches(request.headers.get("authorization"), token):
            return _failure(HTTPStatus.UNAUTHORIZED, "Invalid or expired token")
        if affiliate_code is not None and code != affiliate_code:
            return _failure(HTTPStatus.NOT_FOUND, "Affiliate not found")
        fault = world.faults.take()
        if fault is not None and fault.mode is FaultMode.TIMEOUT:
            await asyncio.sleep(fault.delay)
        world.catch_up()
        return _leaderboard_response(world.simulation, fault)

    @get("/_sim/state")
    async def state() -> SimState:
        world.catch_up()
        return world.state()

    @post("/_sim/faults", status_code=200)
    async def set_fault(data: JSONBody[FaultSpec]) -> SimState:
        world.faults.set(data)
        return world.state()

    @delete("/_sim/faults")
    async def clear_faults() -> None:
        world.faults.clear()

    @post("/_sim/advance", status_code=200)
    async def jump(data: JSONBody[AdvanceBody]) -> SimState:
        world.offset += timedelta(seconds=data.seconds)
        world.catch_up()
        return world.state()

    @post("/_sim/rename", status_code=200)
    async def rename(data: JSONBody[RenameBody]) -> Response[Any]:
        world.catch_up()
        try:
            world.simulation.rename(data.uid, data.name)
        except KeyError:
            return _failure(HTTPStatus.NOT_FOUND, f"unknown uid {data.uid!r}")
        except ValueError as exc:
            return _failure(HTTPStatus.CONFLICT, str(exc))
        return Response({"success": True})

    @post("/_sim/wager", status_code=200)
    async def wager(data: JSONBody[WagerBody]) -> Response[Any]:
        world.catch_up()
        try:
            world.simulation.wager(data.uid, data.amount)
        except KeyError:
            return _failure(HTTPStatus.NOT_FOUND, f"unknown uid {data.uid!r}")
        return Response({"success": True})

    return Litestar(
        route_handlers=[leaderboard, state, set_fault, clear_faults, jump, rename, wager],
        openapi_config=None,
        logging_config=DeferringLoggingConfig(),  # Litestar's default would take over the root logger
    )


async def serve_sim(
    host: str,
    port: int,
    players: int,
    seed: int,
    speed: float,
    token: str | None,
    start: datetime | None = None,
) -> None:
    """Serve a fresh simulation starting at `start` (default: now) until the server is told to exit."""
    simulation = Simulation(players=players, seed=seed, speed=speed, start=start or _utc_now())
    app = create_sim_app(simulation, token=token)
    server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="warning", log_config=None))
    await server.serve()


def _bearer_matches(header: str | None, token: str) -> bool:
    scheme, _, presented = (header or "").partition(" ")
    return scheme.lower() == "bearer" and secrets.compare_digest(
        presented.encode(), token.encode()
    )


def _failure(
    status: HTTPStatus, message: str, headers: dict[str, str] | None = None
) -> Response[Any]:
    return Response(
        {"success": False, "message": message},
        status_code=status,
        media_type=MediaType.JSON,
        headers=headers,
    )


def _leaderboard_response(simulation: Simulation, fault: FaultSpec | None) -> Response[Any]:
    if fault is None:
        return _json(simulation.payload())
    match fault.mode:
        case FaultMode.NONE | FaultMode.TIMEOUT:
            return _json(simulation.payload())
        case FaultMode.ERROR:
            # Upstream 5xx pages come from its hosting, not the API: not JSON.
            return Response(
                _status_line(fault.status), status_code=fault.status, media_type=MediaType.TEXT
            )
        case FaultMode.UNAUTHORIZED:
            return _failure(HTTPStatus.UNAUTHORIZED, "Token expired")
        case FaultMode.FORBIDDEN:
            return _failure(HTTPStatus.FORBIDDEN, "Forbidden")
        case FaultMode.RATE_LIMIT:
            return _failure(
                HTTPStatus.TOO_MANY_REQUESTS,
                "Too many requests",
                headers={"Retry-After": str(fault.retry_after)},
            )
        case FaultMode.MALFORMED:
            # A strict prefix of a JSON object is never valid JSON: its closing brace is missing.
            body = simulation.payload()
            return _json(body[: len(body) // 2])
        case FaultMode.WRONG_SHAPE:
            return _json(msgspec.json.encode(_wrong_shape(simulation)))
        case FaultMode.EMPTY:
            return _json(b'{"success":true,"data":[],"today":0,"this_week":0}')
        case FaultMode.TRUNCATED:
            return _json(simulation.payload(limit=int(simulation.player_count * _TRUNCATED_SHARE)))


def _json(body: bytes) -> Response[bytes]:
    return Response(body, media_type=MediaType.JSON)


def _status_line(status: int) -> str:
    try:
        return f"{status} {HTTPStatus(status).phrase}"
    except ValueError:
        return f"{status} Error"


def _wrong_shape(simulation: Simulation) -> dict[str, Any]:
    """Plausible API drift: the amounts moved up a level and `wagered` is gone."""
    return {
        "success": True,
        "data": [
            {"uid": entry.uid, "name": entry.name, **msgspec.structs.asdict(entry.wagered)}
            for entry in simulation.snapshot()
        ],
    }
