"""Each upstream fault over real HTTP: the board stays, no events go out, /health says
why, and the next good sync recovers."""

from __future__ import annotations

import asyncio
import json
import time

import httpx
import pytest
import websockets

from tests.conftest import live_settings, running_app, running_sim
from tests.integration.test_live_core import recv_json, recv_type, ws_url


async def no_message(ws: websockets.ClientConnection, within: float = 0.6) -> bool:
    try:
        await recv_json(ws, within)  # viewer counts aside
    except TimeoutError:
        return True
    return False


FAULTS = [
    # mode, extra spec, expected sync status, words /health must use, upstream part status
    ("error", {}, "failed", "503", "degraded"),
    ("timeout", {"delay": 3}, "failed", "timed out", "degraded"),
    ("unauthorized", {}, "failed", "token", "down"),
    ("forbidden", {}, "failed", "token", "down"),
    ("rate_limit", {"retry_after": 1}, "failed", "rate limited", "degraded"),
    ("malformed", {}, "refused", "contract", "degraded"),
    ("wrong_shape", {}, "refused", "contract", "degraded"),
    ("empty", {}, "refused", "empty", "degraded"),
    ("truncated", {}, "refused", "truncated", "degraded"),
]


@pytest.mark.parametrize(("mode", "extra", "status", "words", "part"), FAULTS, ids=[f[0] for f in FAULTS])
async def test_upstream_fault_keeps_the_board_and_recovers(
    sqlite_url: str, mode: str, extra: dict, status: str, words: str, part: str
) -> None:
    async with running_sim(speed=0) as sim:
        settings = live_settings(sqlite_url, sim, sync_interval=5, upstream_timeout=1)
        async with running_app(settings) as (base, services), httpx.AsyncClient(base_url=base) as http:
            first = await services.sync.run_once("test")
            assert first.status == "ok"
            board_before = (await http.get("/api/leaderboard/all_time", params={"limit": 1000})).json()
            async with websockets.connect(ws_url(base)) as ws:
                await ws.send(json.dumps({"op": "subscribe", "channel": "leaderboard:all_time"}))
                snap = await recv_json(ws)

                r = await http.post(f"{sim.base_url}/_sim/faults", json={"mode": mode, "count": 50, **extra})
                assert r.status_code == 200, r.text
                attempts_before = services.upstream.attempts_total
                started = time.monotonic()
                bad = await services.sync.run_once("test")
                elapsed = time.monotonic() - started
                assert bad.status == status, bad
                assert await no_message(ws), "a failed sync must not broadcast"
                board_during = (await http.get("/api/leaderboard/all_time", params={"limit": 1000})).json()
                assert board_during["rows"] == board_before["rows"] and board_during["seq"] == first.seq
                health = (await http.get("/health")).json()
                upstream = health["parts"]["upstream"]
                assert upstream["status"] == part
                assert words in upstream["detail"], upstream["detail"]
                assert health["status"] == "degraded"  # the last good board is still served
                attempts = services.upstream.attempts_total - attempts_before
                if mode in ("unauthorized", "forbidden", "malformed", "wrong_shape", "empty", "truncated"):
                    assert attempts == 1, "no retries for an answer that retrying cannot fix"
                else:
                    assert attempts >= 2, "transient faults are retried"
                    assert elapsed < settings.interval, "retries stay inside the sync interval"
                if mode == "rate_limit":
                    assert elapsed >= 0.9 * (attempts - 1), "Retry-After is honoured between attempts"

                await http.delete(f"{sim.base_url}/_sim/faults")
                services.upstream._not_before = 0.0  # a later test of 429 queuing covers the wait
                mover = snap["rows"][-1]
                await http.post(f"{sim.base_url}/_sim/wager", json={"uid": mover["uid"], "amount": 10_000_000})
                good = await services.sync.run_once("test")
                assert good.status == "ok" and good.seq == first.seq + 1
                delta = await recv_type(ws, "delta")
                assert delta["seq"] == snap["seq"] + 1
                assert [c["uid"] for c in delta["changes"]] == [mover["uid"]]
                assert (await http.get("/health")).json()["parts"]["upstream"]["status"] == "ok"


async def test_a_shrink_that_repeats_is_accepted(sqlite_url: str) -> None:
    async with running_sim(speed=0) as sim, running_app(live_settings(sqlite_url, sim)) as (_, services):
        async with httpx.AsyncClient() as http:
            first = await services.sync.run_once("test")
            await http.post(f"{sim.base_url}/_sim/faults", json={"mode": "truncated", "count": 2})
            assert (await services.sync.run_once("test")).status == "refused"
            again = await services.sync.run_once("test")
            assert again.status == "ok" and again.players < first.players * 0.5


async def test_concurrent_triggers_share_one_request(sqlite_url: str) -> None:
    async with running_sim(speed=0) as sim, running_app(live_settings(sqlite_url, sim)) as (_, services):
        before = services.upstream.attempts_total
        results = await asyncio.gather(*(services.sync.run_once(t) for t in ("schedule", "admin", "cli")))
        assert services.upstream.attempts_total - before == 1
        assert len({r.run_id for r in results}) == 1 and results[0].status == "ok"


async def test_circuit_opens_then_probes_and_closes(sqlite_url: str) -> None:
    async with running_sim(speed=0) as sim:
        settings = live_settings(sqlite_url, sim, sync_interval=5, upstream_timeout=1)
        async with running_app(settings) as (base, services), httpx.AsyncClient(base_url=base) as http:
            breaker = services.upstream.breaker
            breaker.reset_timeout = 1
            await http.post(f"{sim.base_url}/_sim/faults", json={"mode": "error", "count": 1000})
            for _ in range(3):
                await services.sync.run_once("test")
            assert breaker.current_state == "open"
            attempts = services.upstream.attempts_total
            blocked = await services.sync.run_once("test")
            assert blocked.status == "failed" and "circuit open" in blocked.error
            assert services.upstream.attempts_total - attempts <= 1  # at most the probe
            health = (await http.get("/health")).json()["parts"]["upstream"]
            assert health["status"] == "down" and health["info"]["circuit_breaker"]["state"] == "open"
            await http.delete(f"{sim.base_url}/_sim/faults")
            await asyncio.sleep(1.1)
            assert (await services.sync.run_once("test")).status == "ok"
            assert breaker.current_state == "closed"


async def test_rate_limit_queues_the_next_sync(sqlite_url: str) -> None:
    async with running_sim(speed=0) as sim:
        settings = live_settings(sqlite_url, sim, sync_interval=5)
        async with running_app(settings) as (_, services), httpx.AsyncClient() as http:
            await http.post(f"{sim.base_url}/_sim/faults", json={"mode": "rate_limit", "count": 1, "retry_after": 2})
            started = time.monotonic()
            result = await services.sync.run_once("test")
            assert result.status == "ok"
            assert time.monotonic() - started >= 1.9  # waited out Retry-After, then succeeded
