"""The simulated upstream over real HTTP: auth, contract shape, controls and every fault."""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx
import msgspec
import pytest
import uvicorn
from litestar import Litestar

from server.upstream.sim_app import FaultMode, Faults, FaultSpec, create_sim_app, running_from
from server.upstream.simulator import Payload, Simulation

TOKEN = "test-token"
CODE = "GOATED"
PLAYERS = 500
WEDNESDAY_LATE = datetime(2025, 3, 26, 23, 0, tzinfo=UTC)
AUTH = {"Authorization": f"Bearer {TOKEN}"}
BOARD = f"/affiliate/referral-leaderboard/{CODE}"


@dataclass
class Clock:
    now: datetime

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Upstream:
    client: httpx.AsyncClient
    clock: Clock

    async def board(self) -> Payload:
        response = await self.client.get(BOARD, headers=AUTH)
        assert response.status_code == 200, response.text
        return msgspec.json.decode(response.content, type=Payload)

    async def fault(self, **body: object) -> None:
        response = await self.client.post("/_sim/faults", json=body)
        assert response.status_code == 200, response.text


@asynccontextmanager
async def serving(app: Litestar) -> AsyncIterator[str]:
    """Run `app` under a real uvicorn on a free loopback port; yield its base URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        deadline = time.monotonic() + 10
        while not server.started:
            assert not task.done(), "uvicorn stopped before it started"
            assert time.monotonic() < deadline, "uvicorn did not start"
            await asyncio.sleep(0.01)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task
        sock.close()


@pytest.fixture
async def upstream() -> AsyncIterator[Upstream]:
    clock = Clock(WEDNESDAY_LATE)
    simulation = Simulation(players=PLAYERS, seed=7, speed=0, start=WEDNESDAY_LATE)
    app = create_sim_app(simulation, token=TOKEN, clock=clock, affiliate_code=CODE)
    async with serving(app) as base_url, httpx.AsyncClient(base_url=base_url) as client:
        yield Upstream(client, clock)


async def test_the_leaderboard_requires_the_bearer_token(upstream: Upstream) -> None:
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}):
        response = await upstream.client.get(BOARD, headers=headers)
        assert response.status_code == 401
        assert response.json()["success"] is False
        assert response.json()["message"]

    payload = await upstream.board()
    assert payload.success is True
    assert len(payload.data) == PLAYERS


async def test_another_affiliate_code_is_not_found(upstream: Upstream) -> None:
    response = await upstream.client.get("/affiliate/referral-leaderboard/OTHER", headers=AUTH)
    assert response.status_code == 404
    assert response.json()["success"] is False


async def test_the_body_is_the_contract_json(upstream: Upstream) -> None:
    response = await upstream.client.get(BOARD, headers=AUTH)
    assert response.headers["content-type"].startswith("application/json")
    raw = response.json()
    assert set(raw) == {"success", "data", "today", "this_week"}
    assert set(raw["data"][0]) == {"uid", "name", "wagered"}
    assert set(raw["data"][0]["wagered"]) == {"today", "this_week", "this_month", "all_time"}
    assert raw["today"] == pytest.approx(sum(e["wagered"]["today"] for e in raw["data"]), abs=0.01)


async def test_state_reports_players_time_and_fault(upstream: Upstream) -> None:
    state = (await upstream.client.get("/_sim/state")).json()
    assert state["players"] == PLAYERS
    assert datetime.fromisoformat(state["now"]) == WEDNESDAY_LATE
    assert state["fault"] is None

    upstream.clock.now += timedelta(minutes=2)
    await upstream.fault(mode="error", count=4, status=502)
    state = (await upstream.client.get("/_sim/state")).json()
    assert datetime.fromisoformat(state["now"]) == WEDNESDAY_LATE + timedelta(minutes=2)
    assert state["fault"]["mode"] == "error"
    assert state["fault"]["remaining"] == 4
    assert state["fault"]["status"] == 502


async def test_rate_limit_answers_429_with_retry_after_then_clears_itself(
    upstream: Upstream,
) -> None:
    await upstream.fault(mode="rate_limit", count=2, retry_after=7)
    for remaining in (1, None):
        response = await upstream.client.get(BOARD, headers=AUTH)
        assert response.status_code == 429
        assert response.headers["retry-after"] == "7"
        fault = (await upstream.client.get("/_sim/state")).json()["fault"]
        assert (fault and fault["remaining"]) == remaining
    assert len((await upstream.board()).data) == PLAYERS


async def test_a_fault_without_count_lasts_until_cleared(upstream: Upstream) -> None:
    await upstream.fault(mode="error")
    for _ in range(3):
        response = await upstream.client.get(BOARD, headers=AUTH)
        assert response.status_code == 503
        with pytest.raises(json.JSONDecodeError):
            response.json()
    assert (await upstream.client.delete("/_sim/faults")).status_code == 204
    await upstream.board()


@pytest.mark.parametrize(("mode", "status"), [("unauthorized", 401), ("forbidden", 403)])
async def test_auth_faults_refuse_a_valid_token(upstream: Upstream, mode: str, status: int) -> None:
    await upstream.fault(mode=mode, count=1)
    response = await upstream.client.get(BOARD, headers=AUTH)
    assert response.status_code == status
    assert response.json()["success"] is False
    await upstream.board()


async def test_malformed_is_a_200_that_is_not_json(upstream: Upstream) -> None:
    await upstream.fault(mode="malformed", count=1)
    response = await upstream.client.get(BOARD, headers=AUTH)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    with pytest.raises(json.JSONDecodeError):
        json.loads(response.content)


async def test_wrong_shape_is_json_that_breaks_the_contract(upstream: Upstream) -> None:
    await upstream.fault(mode="wrong_shape", count=1)
    response = await upstream.client.get(BOARD, headers=AUTH)
    assert response.status_code == 200
    assert response.json()["success"] is True
    with pytest.raises(msgspec.ValidationError):
        msgspec.json.decode(response.content, type=Payload)


async def test_empty_and_truncated_lists(upstream: Upstream) -> None:
    full = await upstream.board()

    await upstream.fault(mode="empty", count=1)
    empty = msgspec.json.decode(
        (await upstream.client.get(BOARD, headers=AUTH)).content, type=Payload
    )
    assert empty.success is True
    assert empty.data == []

    await upstream.fault(mode="truncated", count=1)
    cut = msgspec.json.decode(
        (await upstream.client.get(BOARD, headers=AUTH)).content, type=Payload
    )
    assert cut.data == full.data[: int(PLAYERS * 0.3)]
    assert cut.today == full.today

    assert (await upstream.board()).data == full.data


async def test_timeout_delays_the_answer(upstream: Upstream) -> None:
    await upstream.fault(mode="timeout", count=1, delay=0.3)
    began = time.monotonic()
    response = await upstream.client.get(BOARD, headers=AUTH, timeout=5)
    assert response.status_code == 200
    assert time.monotonic() - began >= 0.3

    await upstream.fault(mode="timeout", count=1, delay=1.0)
    with pytest.raises(httpx.ReadTimeout):
        await upstream.client.get(BOARD, headers=AUTH, timeout=0.2)
    began = time.monotonic()
    await upstream.board()
    assert time.monotonic() - began < 0.5


@pytest.mark.parametrize(
    ("body", "mentions"),
    [
        ({"mode": "explode"}, "mode"),
        ({"mode": "error", "count": 0}, "count"),
        ({"mode": "error", "status": 200}, "status"),
        ({"mode": "error", "surprise": 1}, "surprise"),
        ({"count": 2}, "mode"),
    ],
)
async def test_bad_fault_bodies_are_400(
    upstream: Upstream, body: dict[str, object], mentions: str
) -> None:
    response = await upstream.client.post("/_sim/faults", json=body)
    assert response.status_code == 400
    assert mentions in response.text
    assert (await upstream.client.get("/_sim/state")).json()["fault"] is None


async def test_wager_then_advance_across_midnight(upstream: Upstream) -> None:
    before = {e.uid: e for e in (await upstream.board()).data}
    uid = next(iter(before))

    response = await upstream.client.post("/_sim/wager", json={"uid": uid, "amount": 123.5})
    assert response.status_code == 200
    wagered = {e.uid: e for e in (await upstream.board()).data}[uid].wagered
    assert wagered.today == before[uid].wagered.today + 123.5
    assert wagered.all_time == before[uid].wagered.all_time + 123.5

    response = await upstream.client.post("/_sim/advance", json={"seconds": 3600})
    assert response.status_code == 200
    assert datetime.fromisoformat(response.json()["now"]) == datetime(2025, 3, 27, tzinfo=UTC)
    after = await upstream.board()
    assert not any(e.wagered.today for e in after.data)
    assert after.today == 0
    assert {e.uid: e for e in after.data}[uid].wagered.this_week == wagered.this_week

    bad = await upstream.client.post("/_sim/wager", json={"uid": uid, "amount": -1})
    assert bad.status_code == 400
    missing = await upstream.client.post("/_sim/wager", json={"uid": "nobody", "amount": 1})
    assert missing.status_code == 404


async def test_rename(upstream: Upstream) -> None:
    first, second = (await upstream.board()).data[:2]
    response = await upstream.client.post(
        "/_sim/rename", json={"uid": first.uid, "name": "Renamed-Player"}
    )
    assert response.status_code == 200
    assert (await upstream.board()).data[0].name == "Renamed-Player"

    taken = await upstream.client.post(
        "/_sim/rename", json={"uid": second.uid, "name": "Renamed-Player"}
    )
    assert taken.status_code == 409
    missing = await upstream.client.post("/_sim/rename", json={"uid": "nobody", "name": "Someone"})
    assert missing.status_code == 404


async def test_a_running_simulation_grows_as_the_clock_moves() -> None:
    clock = Clock(WEDNESDAY_LATE)
    simulation = Simulation(players=2000, seed=1, speed=60, start=WEDNESDAY_LATE)
    async with (
        serving(create_sim_app(simulation, clock=clock)) as base_url,
        httpx.AsyncClient(base_url=base_url) as client,
    ):
        url = "/affiliate/referral-leaderboard/ANY"
        first = msgspec.json.decode((await client.get(url)).content, type=Payload)
        clock.now += timedelta(seconds=10)
        second = msgspec.json.decode((await client.get(url)).content, type=Payload)
    grew = [a for a, b in zip(second.data, first.data, strict=False) if a.wagered != b.wagered]
    assert len(grew) >= 3
    assert second.today > first.today


def test_running_from_starts_at_its_instant_and_runs_on_with_the_wall() -> None:
    wall = Clock(datetime(2027, 3, 1, 0, 10, tzinfo=UTC))
    clock = running_from(WEDNESDAY_LATE, wall=wall)
    assert clock() == WEDNESDAY_LATE
    wall.now += timedelta(seconds=90)
    assert clock() == WEDNESDAY_LATE + timedelta(seconds=90)


async def test_a_world_started_at_a_fixed_instant_stays_there_by_default() -> None:
    """Whatever the wall clock says, the default clock runs on from the simulation's start:
    no jump to today's date on the first request."""
    simulation = Simulation(players=50, seed=3, speed=0, start=WEDNESDAY_LATE)
    async with (
        serving(create_sim_app(simulation)) as base_url,
        httpx.AsyncClient(base_url=base_url) as client,
    ):
        state = (await client.get("/_sim/state")).json()
    now = datetime.fromisoformat(state["now"])
    assert WEDNESDAY_LATE <= now < WEDNESDAY_LATE + timedelta(minutes=1)


def test_fault_counts_run_down_and_none_clears() -> None:
    faults = Faults()
    assert faults.take() is None

    faults.set(FaultSpec(FaultMode.EMPTY, count=2))
    assert [spec and spec.mode for spec in (faults.take(), faults.take(), faults.take())] == [
        FaultMode.EMPTY,
        FaultMode.EMPTY,
        None,
    ]

    faults.set(FaultSpec(FaultMode.ERROR))
    assert all(faults.take() is not None for _ in range(50))
    faults.set(FaultSpec(FaultMode.NONE))
    assert faults.take() is None
