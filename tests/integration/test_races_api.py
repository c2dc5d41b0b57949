"""The race HTTP API and the admin API behind its bearer token, on the real app."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import httpx

from tests.conftest import live_settings, running_app, running_sim
from tests.integration.race_support import wager

TOKEN = "admin-test-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def custom(start_in: float, end_in: float, **overrides: object) -> dict[str, object]:
    now = datetime.now(UTC)
    body: dict[str, object] = {
        "title": "Friday sprint",
        "starts_at": iso(now + timedelta(seconds=start_in)),
        "ends_at": iso(now + timedelta(seconds=end_in)),
        "pool_cents": 10_000,
        "split": [50, 30, 20],
        "description": "Wager the most this evening.",
    }
    body.update(overrides)
    return body


async def wait_status(http: httpx.AsyncClient, race_id: int, status: str, timeout: float = 5.0) -> dict:
    async with asyncio.timeout(timeout):
        while True:
            race = (await http.get(f"/api/races/{race_id}")).json()
            if race["race"]["status"] == status:
                return race
            await asyncio.sleep(0.05)


async def test_admin_api_is_disabled_without_a_token(sqlite_url: str) -> None:
    async with running_sim() as sim, running_app(live_settings(sqlite_url, sim)) as (base, _):
        async with httpx.AsyncClient(base_url=base) as http:
            for response in (
                await http.post("/api/admin/races", json=custom(60, 120), headers=AUTH),
                await http.post("/api/admin/sync", headers=AUTH),
            ):
                assert response.status_code == 503
                assert "ADMIN_TOKEN" in response.json()["error"]


async def test_admin_api_needs_the_right_bearer_token(sqlite_url: str) -> None:
    async with running_sim() as sim, running_app(live_settings(sqlite_url, sim, admin_token=TOKEN)) as (base, _):
        async with httpx.AsyncClient(base_url=base) as http:
            for headers in ({}, {"Authorization": "Bearer nope"}, {"Authorization": f"Basic {TOKEN}"}, {"Authorization": TOKEN}):
                response = await http.post("/api/admin/sync", headers=headers)
                assert response.status_code == 401, headers
                assert response.headers["www-authenticate"].startswith("Bearer")
            synced = await http.post("/api/admin/sync", headers=AUTH)
            assert synced.status_code == 200 and synced.json()["status"] == "ok" and synced.json()["players"] > 0
            races = (await http.get("/health")).json()["parts"]["races"]
            assert races["status"] == "ok" and races["info"]["current"] is None


async def test_create_edit_cancel_and_read_races(database_url: str) -> None:
    async with running_sim(speed=0) as sim, running_app(live_settings(database_url, sim, admin_token=TOKEN)) as (base, services):
        await services.sync.run_once("test")
        async with httpx.AsyncClient(base_url=base, headers=AUTH) as http:
            bad = await http.post("/api/admin/races", json=custom(60, 120, split=[40, 25, 15, 10, 7, 6.5]))
            assert bad.status_code == 400 and "103.5%" in bad.json()["error"]
            bad = await http.post("/api/admin/races", json=custom(60, 120, kind="monthly"))
            assert bad.status_code == 400 and "calendar month" in bad.json()["error"]
            bad = await http.post("/api/admin/races", json=custom(-120, -60))
            assert bad.status_code == 400 and "past" in bad.json()["error"]
            bad = await http.post("/api/admin/races", json=custom(60, 120, prize=5))
            assert bad.status_code == 400

            later = (await http.post("/api/admin/races", json=custom(3600, 7200))).json()
            assert later["status"] == "upcoming" and later["prizes_cents"] == [5000, 3000, 2000]
            edited = await http.patch(f"/api/admin/races/{later['id']}", json={"pool_cents": 20_000, "split": [60, 40], "title": "Big sprint"})
            assert edited.status_code == 200, edited.text
            assert (edited.json()["prizes_cents"], edited.json()["title"]) == ([12_000, 8_000], "Big sprint")
            assert (await http.patch(f"/api/admin/races/{later['id']}", json={"split": [10, 20]})).status_code == 400

            now_race = (await http.post("/api/admin/races", json=custom(0, 3600))).json()
            await wait_status(http, now_race["id"], "live")  # the lifecycle started it at once
            refused = await http.patch(f"/api/admin/races/{now_race['id']}", json={"pool_cents": 1})
            assert refused.status_code == 400 and "pool_cents" in refused.json()["error"]
            earlier = await http.patch(f"/api/admin/races/{now_race['id']}", json={"ends_at": iso(datetime.now(UTC) + timedelta(minutes=30))})
            assert earlier.status_code == 400 and "later" in earlier.json()["error"]
            new_end = iso(datetime.now(UTC).replace(microsecond=0) + timedelta(hours=2))
            extended = await http.patch(f"/api/admin/races/{now_race['id']}", json={"ends_at": new_end})
            assert extended.status_code == 200 and extended.json()["ends_at"] == new_end

            await services.sync.run_once("test")  # baseline of the live race
            uid = next(e.uid for e in sim.simulation.snapshot())
            other = list(sim.simulation.snapshot())[1].uid
            await wager(sim, uid, 250)
            await wager(sim, other, 100)
            await services.sync.run_once("test")
            detail = (await http.get(f"/api/races/{now_race['id']}")).json()
            assert [(r["uid"], r["amount"], r["prize_cents"]) for r in detail["standings"]] == [(uid, 250, 5000), (other, 100, 3000)]
            assert detail["total"] == 2 and detail["seconds_left"] > 7000
            player = (await http.get(f"/api/races/{now_race['id']}/players/{other}")).json()
            assert (player["position"], player["gap"], player["prize_cents"], player["qualified"]) == (2, 150, 3000, True)
            assert (await http.get(f"/api/races/{now_race['id']}/players/NOPE0000000000000000")).status_code == 404
            current = (await http.get("/api/races/current")).json()
            assert current["race"]["id"] == now_race["id"]

            listed = (await http.get("/api/races")).json()
            assert [r["id"] for r in listed["races"]] == [later["id"], now_race["id"]] and listed["total"] == 2
            assert [r["id"] for r in (await http.get("/api/races", params={"status": "live"})).json()["races"]] == [now_race["id"]]
            assert (await http.get("/api/races", params={"status": "finished"})).status_code == 400
            assert (await http.get("/api/races/999")).status_code == 404

            cancelled = await http.post(f"/api/admin/races/{later['id']}/cancel")
            assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
            assert (await http.post(f"/api/admin/races/{later['id']}/cancel")).status_code == 400
            assert (await http.patch(f"/api/admin/races/{later['id']}", json={"title": "x"})).status_code == 400

            schema = (await http.get("/schema/openapi.json")).json()["paths"]
            for path in ("/api/races", "/api/races/current", "/api/races/{race_id}", "/api/races/{race_id}/players/{uid}",
                         "/api/admin/races", "/api/admin/races/{race_id}", "/api/admin/races/{race_id}/cancel", "/api/admin/sync"):
                assert path in schema, path


async def test_integers_out_of_the_columns_range_are_a_400(sqlite_url: str) -> None:
    """Sizes that once answered 500: each is a 400 naming the parameter."""
    async with running_sim() as sim, running_app(live_settings(sqlite_url, sim, admin_token=TOKEN)) as (base, _):
        async with httpx.AsyncClient(base_url=base, headers=AUTH) as http:
            for method, path, name in [
                ("GET", "/api/races?offset=18446744073709551616", "offset"),
                ("GET", "/api/races/1?offset=99999999999999999999", "offset"),
                ("GET", "/api/leaderboard/monthly?offset=1000001", "offset"),
                ("GET", "/api/races/2147483648", "race_id"),
                ("POST", "/api/admin/links/10000000000000000001/approve", "link_id"),
                ("POST", "/api/admin/links/-10929178220344182784/reject", "link_id"),
            ]:
                r = await http.request(method, path)
                assert r.status_code == 400, (path, r.status_code, r.text)
                assert name in r.text, (path, r.text)
            assert (await http.get("/api/races/2147483647")).status_code == 404
            assert (await http.get("/api/leaderboard/monthly?offset=1000000")).status_code == 200
