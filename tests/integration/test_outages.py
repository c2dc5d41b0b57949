"""Our own services failing: PostgreSQL and Redis taken away through a proxy we control
(the machine's shared servers stay untouched), slow viewers, and shutdown."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import httpx
import websockets

from tests.conftest import SIM_START, free_port, live_settings, running_app, running_sim
from tests.integration.test_live_core import recv_json, recv_type, ws_url
from tests.tcp_proxy import TcpProxy


def via_proxy(url: str, proxy: TcpProxy) -> str:
    parts = urlsplit(url)
    netloc = parts.netloc.rsplit("@", 1)
    host = f"127.0.0.1:{proxy.port}"
    return urlunsplit(parts._replace(netloc=f"{netloc[0]}@{host}" if len(netloc) == 2 else host))


async def test_postgres_outage_keeps_syncing_and_loses_nothing(pg_url: str) -> None:
    target = urlsplit(pg_url)
    proxy = await TcpProxy(target.hostname or "127.0.0.1", target.port or 5432).start()
    try:
        async with running_sim(speed=0) as sim:
            settings = live_settings(via_proxy(pg_url, proxy), sim)
            async with running_app(settings) as (base, services), httpx.AsyncClient(base_url=base) as http:
                assert (await services.sync.run_once("test")).status == "ok"
                async with websockets.connect(ws_url(base)) as ws:
                    await ws.send(json.dumps({"op": "subscribe", "channel": "leaderboard:monthly"}))
                    snap = await recv_json(ws)
                    mover = snap["rows"][-1]

                    proxy.cut()
                    await http.post(f"{sim.base_url}/_sim/wager", json={"uid": mover["uid"], "amount": 5_000_000})
                    held = await services.sync.run_once("test")
                    assert held.status == "ok" and not held.stored
                    delta = await recv_type(ws, "delta")  # viewers still get the change
                    assert delta["changes"][0]["uid"] == mover["uid"] and delta["changes"][0]["rank"] == 1
                    health = (await http.get("/health")).json()
                    assert health["status"] == "degraded"
                    assert health["parts"]["database"]["status"] == "down"
                    assert "held in memory" in health["parts"]["database"]["detail"]
                    assert (await http.get("/api/leaderboard/monthly")).json()["rows"][0]["uid"] == mover["uid"]

                    second = snap["rows"][-2]
                    await http.post(f"{sim.base_url}/_sim/wager", json={"uid": second["uid"], "amount": 9_000_000})
                    assert (await services.sync.run_once("test")).stored is False

                    proxy.restore()
                    assert await services.sync.flush_if_pending()
                    assert (await http.get("/health")).json()["parts"]["database"]["status"] == "ok"

        conn = await asyncpg.connect(pg_url)
        try:
            rows = await conn.fetch("SELECT uid, monthly FROM players WHERE uid = ANY($1)", [mover["uid"], second["uid"]])
            amounts = {r["uid"]: r["monthly"] for r in rows}
            assert amounts[mover["uid"]] >= 5_000_000 and amounts[second["uid"]] >= 9_000_000
            runs = await conn.fetch("SELECT status, seq FROM sync_runs WHERE status = 'ok' ORDER BY seq")
            assert [r["seq"] for r in runs] == [1, 2, 3]
            points = await conn.fetchval("SELECT count(*) FROM history WHERE uid = $1 AND period = 'monthly'", second["uid"])
            assert points >= 1
        finally:
            await conn.close()
    finally:
        await proxy.stop()


async def test_redis_outage_degrades_then_fans_out_again(sqlite_url: str, redis_url: str, tmp_path) -> None:  # noqa: ANN001
    target = urlsplit(redis_url)
    proxy = await TcpProxy(target.hostname or "127.0.0.1", target.port or 6379).start()
    db = f"sqlite:///{tmp_path / 'shared.sqlite'}"
    try:
        async with running_sim(speed=0) as sim:
            prefix = f"goated-test:{uuid.uuid4().hex[:8]}"  # one deployment: both replicas share it
            leader_settings = live_settings(db, sim, redis_url=via_proxy(redis_url, proxy), redis_prefix=prefix)
            follower_settings = live_settings(db, sim, redis_url=redis_url, redis_prefix=prefix)
            async with (
                running_app(leader_settings) as (leader_base, leader),
                running_app(follower_settings) as (follower_base, follower),
                httpx.AsyncClient() as http,
            ):
                assert (await leader.sync.run_once("test")).status == "ok"
                # The follower hears version 1 through Redis, a moment after the leader's sync
                # returns (on a busy machine, after the viewers below would have subscribed).
                async with asyncio.timeout(10):
                    while follower.live.seq < 1:
                        await asyncio.sleep(0.01)
                async with websockets.connect(ws_url(leader_base)) as on_leader, websockets.connect(ws_url(follower_base)) as on_follower:
                    for ws in (on_leader, on_follower):
                        await ws.send(json.dumps({"op": "subscribe", "channel": "leaderboard:all_time"}))
                    snap_a, snap_b = await recv_json(on_leader), await recv_json(on_follower)
                    assert snap_a["seq"] == snap_b["seq"] == 1

                    proxy.cut()
                    uid = snap_a["rows"][-1]["uid"]
                    await http.post(f"{sim.base_url}/_sim/wager", json={"uid": uid, "amount": 50_000_000})
                    assert (await leader.sync.run_once("test")).status == "ok"
                    assert (await recv_type(on_leader, "delta"))["seq"] == 2  # its own viewers still served
                    health = (await http.get(f"{leader_base}/health")).json()
                    assert health["parts"]["channels"]["status"] == "degraded"
                    assert "redis" in health["parts"]["channels"]["detail"]

                    backend = leader.channels._backend
                    async with asyncio.timeout(15):
                        while backend.connected:  # wait until it noticed the outage
                            await asyncio.sleep(0.05)
                    proxy.restore()
                    async with asyncio.timeout(15):
                        while not backend.connected:
                            await asyncio.sleep(0.05)
                    await http.post(f"{sim.base_url}/_sim/wager", json={"uid": snap_a["rows"][-2]["uid"], "amount": 70_000_000})
                    assert (await leader.sync.run_once("test")).status == "ok"
                    # The follower missed version 2 (published while Redis was cut): it
                    # reloads from the database and its viewer gets a fresh snapshot.
                    got = await recv_type(on_follower, "snapshot", timeout=10)
                    assert got["seq"] == 3 and got["rows"][0]["uid"] == snap_a["rows"][-2]["uid"]
                    assert (await http.get(f"{leader_base}/health")).json()["parts"]["channels"]["status"] == "ok"
    finally:
        await proxy.stop()


async def test_a_stalled_viewer_does_not_delay_the_others(sqlite_url: str) -> None:
    async with running_sim(players=3000, speed=0) as sim, running_app(live_settings(sqlite_url, sim, ws_send_backlog=4)) as (base, services):
        await services.sync.run_once("test")
        stalled = await websockets.connect(ws_url(base), max_queue=1)
        try:
            stalled.transport.pause_reading()
            # It never reads, yet keeps asking for snapshots: the socket buffers fill, then
            # its queue on the server, and the server must cut it off.
            for _ in range(1500):
                await stalled.send(json.dumps({"op": "subscribe", "channel": "leaderboard:all_time"}))
            async with websockets.connect(ws_url(base)) as healthy:
                await healthy.send(json.dumps({"op": "subscribe", "channel": "leaderboard:all_time"}))
                await recv_json(healthy)
                latencies = []
                for i in range(12):
                    await sim_wager(sim, services, i)
                    started = time.monotonic()
                    await services.sync.run_once("test")
                    await recv_type(healthy, "delta", timeout=3)
                    latencies.append(time.monotonic() - started)
                assert max(latencies) < 1.0
            async with asyncio.timeout(5):
                while services.hub.slow_consumers_cut < 1:  # the stalled one was cut off
                    await asyncio.sleep(0.05)
        finally:
            stalled.transport.abort()


async def sim_wager(sim, services, i: int) -> None:  # noqa: ANN001
    uids = sorted(services.sync.players)
    async with httpx.AsyncClient() as http:
        await http.post(f"{sim.base_url}/_sim/wager", json={"uid": uids[i], "amount": 1_000 + i})


async def test_sigterm_closes_websockets_with_1001_and_exits(tmp_path) -> None:  # noqa: ANN001
    port = free_port()
    env = os.environ | {
        "DATABASE_URL": f"sqlite:///{tmp_path / 'g.sqlite'}",
        "PORT": str(port),
        "SIM_PLAYERS": "200",
        "SIM_START": SIM_START.isoformat(),
        "LOG_LEVEL": "WARNING",
    }
    env.pop("GOATED_TOKEN", None)
    env.pop("REDIS_URL", None)
    proc = subprocess.Popen([sys.executable, "-m", "server", "serve"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        async with asyncio.timeout(30):
            while True:
                try:
                    async with httpx.AsyncClient() as http:
                        if (await http.get(f"http://127.0.0.1:{port}/health")).status_code in (200, 503):
                            break
                except httpx.HTTPError:
                    await asyncio.sleep(0.2)
        async with websockets.connect(f"ws://127.0.0.1:{port}/ws") as ws:
            await ws.send(json.dumps({"op": "subscribe", "channel": "leaderboard:today"}))
            await recv_json(ws)
            started = time.monotonic()
            proc.send_signal(signal.SIGTERM)
            try:
                async with asyncio.timeout(5):
                    while True:
                        await ws.recv()
            except websockets.ConnectionClosed as closed:
                assert closed.rcvd is not None and closed.rcvd.code == 1001
        code = await asyncio.to_thread(proc.wait, 10)
        # uvicorn shuts down gracefully, then re-raises the signal it caught.
        assert code in (0, -signal.SIGTERM), proc.stdout.read().decode() if proc.stdout else code
        assert time.monotonic() - started < 5
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
