"""End to end: simulated upstream over HTTP -> sync -> database -> websocket and API."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime

import httpx
import pytest
import websockets

from server.app import create_app
from server.health import build_report
from server.services import running_services
from server.upstream.demo import serve_on_loopback
from tests.conftest import SIM_START, live_settings, running_app, running_sim
from tests.integration.race_support import Clock, aligned


async def recv_json(ws: websockets.ClientConnection, timeout: float = 5.0, *, presence: bool = False) -> dict:
    """The next message. Viewer counts (`presence`: after every subscribe, and when a channel's
    count changes) are skipped unless asked for: the other tests follow a channel's states."""
    async with asyncio.timeout(timeout):
        while True:
            msg = json.loads(await ws.recv())
            if presence or msg.get("type") != "presence":
                return msg


async def recv_type(ws: websockets.ClientConnection, type_: str, timeout: float = 5.0) -> dict:
    async with asyncio.timeout(timeout):
        while True:
            msg = await recv_json(ws)
            if msg["type"] == type_:
                return msg


def ws_url(base: str) -> str:
    return base.replace("http://", "ws://") + "/ws"


async def test_a_sync_reaches_the_websocket_and_the_api_agrees(database_url: str) -> None:
    async with running_sim() as sim, running_app(live_settings(database_url, sim)) as (base, services):
        first = await services.sync.run_once("test")
        assert first.status == "ok", first.error
        async with httpx.AsyncClient(base_url=base) as http, websockets.connect(ws_url(base)) as ws:
            await ws.send(json.dumps({"op": "subscribe", "channel": "leaderboard:monthly"}))
            snap = await recv_json(ws)
            assert snap["type"] == "snapshot" and snap["channel"] == "leaderboard:monthly"
            assert snap["seq"] == first.seq
            before = (await http.get("/api/leaderboard/monthly", params={"limit": 1000})).json()
            assert [r["uid"] for r in before["rows"]] == [r["uid"] for r in snap["rows"]]

            # Push the 5th-placed player to the top through the upstream itself.
            fifth = snap["rows"][4]
            top_amount = snap["rows"][0]["amount"]
            r = await http.post(f"{sim.base_url}/_sim/wager", json={"uid": fifth["uid"], "amount": top_amount + 1000})
            assert r.status_code < 300, r.text
            second = await services.sync.run_once("test")
            assert second.status == "ok" and second.seq == first.seq + 1

            delta = await recv_type(ws, "delta")
            assert delta["seq"] == snap["seq"] + 1
            moved = {c["uid"]: c for c in delta["changes"]}
            assert moved[fifth["uid"]]["rank"] == 1
            assert moved[fifth["uid"]]["prev_rank"] == 5
            assert moved[fifth["uid"]]["kind"] == "moved"
            passed = {o[1] for o in delta["overtakes"] if o[0] == fifth["uid"]}
            assert {row["uid"] for row in snap["rows"][:4]} <= passed

            # Apply the delta the way a client does and compare with what the API serves now.
            rows = {r["uid"]: r for r in snap["rows"]}
            for uid in delta["left"]:
                rows.pop(uid)
            for c in delta["changes"]:
                rows[c["uid"]] = {"uid": c["uid"], "name": c["name"], "amount": c["amount"]}
            mine = sorted(rows.values(), key=lambda r: (-r["amount"], r["uid"]))
            after = (await http.get("/api/leaderboard/monthly", params={"limit": 1000})).json()
            assert after["seq"] == delta["seq"]
            assert [(r["uid"], r["amount"]) for r in after["rows"]] == [(r["uid"], r["amount"]) for r in mine]
            assert after["rows"][0]["uid"] == fifth["uid"] and after["rows"][0]["prev"] == 5


async def test_restart_resumes_without_a_burst_of_events(sqlite_url: str) -> None:
    async with running_sim() as sim:
        settings = live_settings(sqlite_url, sim)
        async with running_app(settings) as (_, services):
            assert (await services.sync.run_once("test")).status == "ok"
            board_before = services.live.board(__import__("server.leaderboard.board", fromlist=["Period"]).Period.ALL_TIME)
        async with running_app(settings) as (base, services):
            # Served at once from the database, before any sync.
            async with httpx.AsyncClient(base_url=base) as http:
                response = await http.get("/api/leaderboard/all_time", params={"limit": 1000})
            page = response.json()
            assert [r["uid"] for r in page["rows"]] == [r.uid for r in board_before.rows]
            assert int(response.headers["age"]) >= 0 and response.headers["x-synced-at"] == page["synced_at"].replace("Z", "+00:00")
            async with websockets.connect(ws_url(base)) as ws:
                await ws.send(json.dumps({"op": "subscribe", "channel": "leaderboard:all_time"}))
                await recv_type(ws, "snapshot")
                result = await services.sync.run_once("test")
                delta = await recv_type(ws, "delta")
            # Nothing wagered in between (speed 0): the sync after a restart changes nothing.
            assert result.status == "ok" and result.changes == 0
            assert delta["changes"] == [] and delta["left"] == []


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        ("not json", "bad_message"),
        (json.dumps({"op": "dance"}), "bad_message"),
        (json.dumps({"op": "subscribe", "channel": "leaderboard:yearly"}), "unknown_channel"),
        (json.dumps({"op": "subscribe", "channel": "nope"}), "unknown_channel"),
        (json.dumps({"op": "subscribe", "channel": "leaderboard:today", "limit": 0}), "bad_limit"),
    ],
)
async def test_garbage_frames_get_an_error_and_the_socket_lives(sqlite_url: str, frame: str, code: str) -> None:
    async with running_sim() as sim, running_app(live_settings(sqlite_url, sim)) as (base, services):
        await services.sync.run_once("test")
        async with websockets.connect(ws_url(base)) as ws:
            await ws.send(frame)
            err = await recv_json(ws)
            assert err["type"] == "error" and err["code"] == code
            await ws.send(json.dumps({"op": "ping"}))
            assert (await recv_json(ws))["type"] == "pong"


async def test_an_oversized_frame_closes_with_1009(sqlite_url: str) -> None:
    async with running_sim() as sim, running_app(live_settings(sqlite_url, sim, ws_max_frame=512)) as (base, _):
        async with websockets.connect(ws_url(base)) as ws:
            await ws.send("x" * 2000)
            with pytest.raises(websockets.ConnectionClosed) as closed:
                await asyncio.wait_for(ws.recv(), 5)
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009


async def test_resume_since_replays_only_what_was_missed(sqlite_url: str) -> None:
    async with running_sim(speed=0) as sim, running_app(live_settings(sqlite_url, sim)) as (base, services):
        first = await services.sync.run_once("test")
        await services.sync.run_once("test")
        await services.sync.run_once("test")
        async with websockets.connect(ws_url(base)) as ws:
            await ws.send(json.dumps({"op": "subscribe", "channel": "leaderboard:weekly", "since": first.seq}))
            a, b = await recv_json(ws), await recv_json(ws)
            assert (a["type"], a["seq"], b["type"], b["seq"]) == ("delta", first.seq + 1, "delta", first.seq + 2)
            await ws.send(json.dumps({"op": "subscribe", "channel": "leaderboard:today", "since": 10_000}))
            snap = await recv_json(ws)
            assert snap["type"] == "snapshot" and snap["seq"] == first.seq + 2


async def test_bad_query_parameters_are_400_with_the_reason(sqlite_url: str) -> None:
    async with running_sim() as sim, running_app(live_settings(sqlite_url, sim)) as (base, services):
        await services.sync.run_once("test")
        async with httpx.AsyncClient(base_url=base) as http:
            bad_period = await http.get("/api/leaderboard/yearly")
            assert bad_period.status_code == 400 and "yearly" in bad_period.json()["error"]
            bad_limit = await http.get("/api/leaderboard/today", params={"limit": 0})
            assert bad_limit.status_code == 400 and "limit" in bad_limit.text
            bad_offset = await http.get("/api/leaderboard/today", params={"offset": "x"})
            assert bad_offset.status_code == 400 and "offset" in bad_offset.text
            missing = await http.get("/api/players/NOPE1234567890123456")
            assert missing.status_code == 404


async def test_search_keeps_true_ranks_and_player_api(sqlite_url: str) -> None:
    async with running_sim() as sim, running_app(live_settings(sqlite_url, sim)) as (base, services):
        await services.sync.run_once("test")
        async with httpx.AsyncClient(base_url=base) as http:
            full = (await http.get("/api/leaderboard/all_time", params={"limit": 1000})).json()
            target = full["rows"][3]
            found = (await http.get("/api/leaderboard/all_time", params={"q": target["name"][1:4].upper()})).json()
            assert target["uid"] in [r["uid"] for r in found["rows"]]
            hit = next(r for r in found["rows"] if r["uid"] == target["uid"])
            assert hit["rank"] == 4 and found["total"] == full["total"]
            player = (await http.get(f"/api/players/{target['uid']}")).json()
            assert player["name"] == target["name"]
            standing = {s["period"]: s for s in player["standings"]}
            assert standing["all_time"]["rank"] == 4
            assert any(h["period"] == "all_time" and h["rank"] == 4 for h in player["history"])
            health = (await http.get("/health")).json()
            assert health["parts"]["upstream"]["status"] == "ok"
            assert health["parts"]["database"]["status"] == "ok"
            schema = await http.get("/schema/openapi.json")
            assert "/api/leaderboard/{period}" in schema.json()["paths"]


async def test_health_tells_the_boards_age_by_the_apps_clock(sqlite_url: str) -> None:
    """An app on an injected clock (here days from the wall clock) reads its own time for
    /health, the time its syncs were stamped with: its fresh board is not called stale."""
    clock = Clock(aligned(SIM_START))
    async with running_sim() as sim, running_services(live_settings(sqlite_url, sim), clock=clock, schedule=False) as services:
        assert (await services.sync.run_once("test")).status == "ok"
        clock.advance(5)
        report = await build_report(services)
        assert report.now == clock.now
        assert report.parts["sync"].status == "ok" and report.parts["sync"].info["age_s"] == 5


async def test_a_pong_tells_the_apps_time(sqlite_url: str) -> None:
    """Clients set their countdown clock from server_now: a pong's must be the app's clock,
    the one race times come from, even when that is not the wall clock."""
    clock = Clock(aligned(SIM_START))
    async with running_sim() as sim:
        app = create_app(live_settings(sqlite_url, sim), clock=clock, schedule=False)
        async with serve_on_loopback(app) as base, websockets.connect(ws_url(base)) as ws:
            await ws.send(json.dumps({"op": "ping"}))
            pong = await recv_type(ws, "pong")
    assert datetime.fromisoformat(pong["server_now"]) == clock.now


async def test_rows_and_deltas_carry_each_players_all_time_amount(sqlite_url: str) -> None:
    """The tier badge's basis travels with the rows, so a page follows only its own board."""
    async with running_sim() as sim, running_app(live_settings(sqlite_url, sim)) as (base, services):
        assert (await services.sync.run_once("test")).status == "ok"
        lifetime = {e.uid: e.wagered.all_time for e in sim.simulation.snapshot()}
        async with httpx.AsyncClient(base_url=base) as http, websockets.connect(ws_url(base)) as ws:
            await ws.send(json.dumps({"op": "subscribe", "channel": "leaderboard:monthly"}))
            snap = await recv_json(ws)
            assert snap["rows"] and all(row["lifetime"] == lifetime[row["uid"]] for row in snap["rows"])
            mover = snap["rows"][-1]
            await http.post(f"{sim.base_url}/_sim/wager", json={"uid": mover["uid"], "amount": 12_345})
            assert (await services.sync.run_once("test")).status == "ok"
            delta = await recv_type(ws, "delta")
            assert delta["lifetimes"] == {mover["uid"]: lifetime[mover["uid"]] + 12_345}


async def test_the_boards_age_is_counted_on_the_apps_clock(sqlite_url: str) -> None:
    """`Age` is how old the board is on the clock its syncs were stamped with."""
    from datetime import UTC, datetime, timedelta

    from server.app import create_app
    from server.upstream.demo import serve_on_loopback

    ahead = {"by": timedelta(0)}

    def clock() -> datetime:
        return datetime.now(UTC) + ahead["by"]

    async with running_sim() as sim:
        app = create_app(live_settings(sqlite_url, sim), clock=clock, schedule=False)
        async with serve_on_loopback(app) as base, httpx.AsyncClient(base_url=base) as http:
            assert (await app.state.services.sync.run_once("test")).status == "ok"
            ahead["by"] = timedelta(hours=1)
            age = int((await http.get("/api/leaderboard/monthly")).headers["age"])
            assert 3600 <= age <= 3630
