"""Several replicas on the real PostgreSQL and Redis: one leads the syncs, viewers on every
replica get the same deltas, and when the leader dies another takes over."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import websockets

from tests.conftest import SIM_TOKEN, free_port, running_sim
from tests.integration.test_live_core import recv_type


@asynccontextmanager
async def replica(env: dict[str, str]) -> AsyncIterator[tuple[str, subprocess.Popen[bytes]]]:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "server", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        async with asyncio.timeout(30):
            while True:
                try:
                    async with httpx.AsyncClient() as http:
                        if (await http.get(f"{base}/health")).status_code in (200, 503):
                            break
                except httpx.HTTPError:
                    await asyncio.sleep(0.2)
        yield base, proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.to_thread(proc.wait, 10)
            except subprocess.TimeoutExpired:
                proc.kill()


def replica_env(pg_url: str, redis_url: str, upstream: str, sync_interval: str = "2", **more: str) -> dict[str, str]:
    """The environment of a replica of a deployment on PostgreSQL and Redis (a prefix of its own),
    syncing the simulated upstream at `upstream` every `sync_interval` seconds; `more` adds settings."""
    return os.environ | {
        "DATABASE_URL": pg_url,
        "REDIS_URL": redis_url,
        "REDIS_PREFIX": f"goated-test:{uuid.uuid4().hex[:8]}",
        "GOATED_TOKEN": SIM_TOKEN,
        "GOATED_API_URL": upstream,
        "GOATED_AFFILIATE_CODE": "TESTCODE",
        "SYNC_INTERVAL": sync_interval,
        "LOG_LEVEL": "WARNING",
        **more,
    }


async def leader_flag(base: str) -> bool:
    async with httpx.AsyncClient() as http:
        return (await http.get(f"{base}/health")).json()["parts"]["sync"]["info"]["leader"]


async def test_two_replicas_share_deltas_and_survive_the_leader(pg_url: str, redis_url: str) -> None:
    async with running_sim(players=500, speed=3000) as sim:
        env = replica_env(pg_url, redis_url, sim.base_url, sync_interval="2")
        async with replica(env) as (base_a, proc_a), replica(env) as (base_b, proc_b):
            flags = [await leader_flag(base_a), await leader_flag(base_b)]
            assert sorted(flags) == [False, True], "exactly one replica leads"
            async with websockets.connect(base_a.replace("http", "ws") + "/ws") as ws_a, websockets.connect(
                base_b.replace("http", "ws") + "/ws"
            ) as ws_b:
                for ws in (ws_a, ws_b):
                    await ws.send(json.dumps({"op": "subscribe", "channel": "leaderboard:all_time"}))
                    await recv_type(ws, "snapshot")
                seen_a = [await recv_type(ws_a, "delta", timeout=10) for _ in range(2)]
                seen_b = []
                while len(seen_b) < 2:
                    msg = await recv_type(ws_b, "delta", timeout=10)
                    if msg["seq"] >= seen_a[0]["seq"]:
                        seen_b.append(msg)
                assert seen_a == seen_b, "both replicas' viewers get identical deltas"

                leader_proc, survivor_ws, survivor_base = (
                    (proc_a, ws_b, base_b) if flags[0] else (proc_b, ws_a, base_a)
                )
                last_seq = seen_a[-1]["seq"]
                leader_proc.kill()  # no goodbye: the lock must be freed by its dead connection
                async with asyncio.timeout(30):
                    while True:
                        msg = json.loads(await survivor_ws.recv())
                        if msg["type"] in ("delta", "snapshot") and msg["seq"] > last_seq + 1:
                            break
                assert await leader_flag(survivor_base)
                after = await recv_type(survivor_ws, "delta", timeout=10)
                assert after["seq"] == msg["seq"] + 1, "the new leader carries the sync on"


async def test_a_follower_only_process_never_takes_the_lead(sqlite_url: str) -> None:
    from server.services import running_services
    from tests.conftest import live_settings

    async with running_sim() as sim:
        async with running_services(live_settings(sqlite_url, sim), schedule=False, lead=False) as services:
            await services.leadership.step()
            assert not services.is_leader and not services.supervisor.running("race_lifecycle")
        async with running_services(live_settings(sqlite_url, sim), schedule=False) as services:
            assert services.is_leader  # alone on SQLite without Redis: it leads
