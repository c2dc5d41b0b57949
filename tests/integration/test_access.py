"""Admin auth, runtime token replacement, rate limits, per-address socket limits and
security headers, over real HTTP."""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import UTC, datetime, timedelta

import httpx
import pytest
import websockets
from cryptography.fernet import Fernet

from tests.conftest import live_settings, running_app, running_sim
from tests.integration.test_live_core import ws_url
from tests.unit.test_access_rules import jwt

ADMIN = "admin-secret-for-tests"


async def test_admin_routes_need_the_token(sqlite_url: str) -> None:
    async with running_sim() as sim, running_app(live_settings(sqlite_url, sim, admin_token=ADMIN)) as (base, _):
        async with httpx.AsyncClient(base_url=base) as http:
            assert (await http.post("/api/admin/sync")).status_code == 401
            assert (await http.post("/api/admin/sync", headers={"Authorization": "Bearer nope"})).status_code == 401
            assert (await http.get("/api/admin/upstream-token", headers={"Authorization": f"Basic {ADMIN}"})).status_code == 401
            ok = await http.post("/api/admin/sync", headers={"Authorization": f"Bearer {ADMIN}"})
            assert ok.status_code == 200 and ok.json()["status"] == "ok"


async def test_admin_is_disabled_without_a_configured_token(sqlite_url: str) -> None:
    async with running_sim() as sim, running_app(live_settings(sqlite_url, sim)) as (base, _):
        async with httpx.AsyncClient(base_url=base) as http:
            r = await http.post("/api/admin/sync", headers={"Authorization": "Bearer anything"})
            assert r.status_code == 503 and "ADMIN_TOKEN" in r.text


async def test_expired_token_is_reported_then_replaced_at_runtime(sqlite_url: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    fresh = jwt((datetime.now(UTC) + timedelta(hours=24)).timestamp())
    stale = jwt((datetime.now(UTC) + timedelta(minutes=30)).timestamp(), session="old")
    async with running_sim(token=fresh) as sim:
        settings = live_settings(sqlite_url, sim, goated_token=stale, admin_token=ADMIN, token_key=Fernet.generate_key().decode())
        async with running_app(settings) as (base, services), httpx.AsyncClient(base_url=base) as http:
            auth = {"Authorization": f"Bearer {ADMIN}"}
            result = await services.sync.run_once("test")
            assert result.status == "failed"
            health = (await http.get("/health")).json()["parts"]["upstream"]
            assert health["status"] == "down" and "expired or was revoked" in health["detail"]
            status = (await http.get("/api/admin/upstream-token", headers=auth)).json()
            assert status["source"] == "env" and 0 < status["expires_in_s"] <= 1800
            assert "expires in" in status["warning"]

            bad = await http.put("/api/admin/upstream-token", headers=auth, json={"token": "two words"})
            assert bad.status_code == 400
            r = await http.put("/api/admin/upstream-token", headers=auth, json={"token": fresh})
            assert r.status_code == 200, r.text
            assert r.json()["source"] == "admin" and r.json()["stored"] is True
            async with asyncio.timeout(10):
                while services.sync.last_result is None or services.sync.last_result.status != "ok":
                    await asyncio.sleep(0.05)
            assert (await http.get("/health")).json()["parts"]["upstream"]["status"] == "ok"
            everything = r.text + json.dumps((await http.get("/health")).json()) + caplog.text
            assert fresh not in everything and stale not in everything and ADMIN not in caplog.text

        # A restart picks the admin's token up from the database.
        async with running_app(settings) as (_, services):
            assert services.token.token == fresh
            assert (await services.sync.run_once("test")).status == "ok"


async def test_rate_limit_per_client_and_spoofed_forwarding(sqlite_url: str) -> None:
    async with running_sim() as sim, running_app(live_settings(sqlite_url, sim, rate_limit_per_minute=5)) as (base, services):
        await services.sync.run_once("test")
        async with httpx.AsyncClient(base_url=base) as http:
            codes = [(await http.get("/api/leaderboard/today", headers={"X-Forwarded-For": f"1.2.3.{i}"})).status_code for i in range(7)]
            assert codes[:5] == [200] * 5 and codes[5:] == [429, 429]
            limited = await http.get("/api/leaderboard/today")
            assert limited.status_code == 429 and int(limited.headers["ratelimit-reset"]) > 0
            assert (await http.get("/health")).status_code == 200  # never limited


async def test_trusted_proxy_limits_each_forwarded_client(sqlite_url: str) -> None:
    async with running_sim() as sim:
        settings = live_settings(sqlite_url, sim, rate_limit_per_minute=3, trusted_proxies="127.0.0.1")
        async with running_app(settings) as (base, services), httpx.AsyncClient(base_url=base) as http:
            await services.sync.run_once("test")
            for client in ("198.51.100.1", "198.51.100.2"):
                codes = [(await http.get("/api/leaderboard/today", headers={"X-Forwarded-For": client})).status_code for _ in range(4)]
                assert codes == [200, 200, 200, 429]


async def test_websocket_connections_per_address(sqlite_url: str) -> None:
    async with running_sim() as sim, running_app(live_settings(sqlite_url, sim, ws_max_per_address=2)) as (base, _):
        async with websockets.connect(ws_url(base)) as a, websockets.connect(ws_url(base)) as b:
            third = await websockets.connect(ws_url(base))
            with pytest.raises(websockets.ConnectionClosed) as closed:
                await asyncio.wait_for(third.recv(), 5)
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008
            for ws in (a, b):
                await ws.send(json.dumps({"op": "ping"}))
                assert json.loads(await ws.recv())["type"] == "pong"
        # Slots free up once sockets close.
        async with websockets.connect(ws_url(base)) as again:
            await again.send(json.dumps({"op": "ping"}))
            assert json.loads(await again.recv())["type"] == "pong"


async def test_security_headers(sqlite_url: str) -> None:
    async with running_sim() as sim, running_app(live_settings(sqlite_url, sim)) as (base, services):
        await services.sync.run_once("test")
        async with httpx.AsyncClient(base_url=base) as http:
            page = await http.get("/")
            csp = page.headers["content-security-policy"]
            assert "unsafe-inline" not in csp and "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
            assert page.headers["x-frame-options"] == "DENY"
            overlay = await http.get("/overlay")
            assert "frame-ancestors *" in overlay.headers["content-security-policy"]
            assert "x-frame-options" not in overlay.headers
            api = await http.get("/api/leaderboard/today")
            assert api.headers["x-content-type-options"] == "nosniff"
