"""Races people can check, on the real app: the final standings' hash against /final.json and
against the recipe in docs/races.md, the CSV export, the audit log of admin changes, and a
database made by the previous schema migrating to this one."""

from __future__ import annotations

import asyncio
import hashlib
import importlib
import json
import re
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import httpx
from piccolo.apps.migrations.commands.forwards import run_forwards

from server.app import create_app
from server.db.engine import close_pool, make_engine, open_pool
from server.realtime.edge import GoatedWebSocketProtocol
from server.schema import APP_CONFIG, bind_engine, migrate
from server.services import Services
from server.settings import Settings
from server.telegram.announcer import race_posts
from server.upstream.demo import serve_on_loopback
from tests.conftest import SIM_START, Sim, live_settings, running_app, running_sim
from tests.integration.race_support import Clock, aligned, wager

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "trust-admin-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
THIS_MIGRATION = "2026-11-30T06:22:57:743514"


def iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


@asynccontextmanager
async def served(settings: Settings, clock: Clock) -> AsyncIterator[tuple[str, Services]]:
    """The real app on loopback with the test's clock; the race lifecycle is stepped by the test."""
    app = create_app(settings, schedule=False, clock=clock)
    async with serve_on_loopback(app, ws=GoatedWebSocketProtocol, ws_per_message_deflate=False) as base:
        services: Services = app.state.services
        await services.supervisor.stop("race_lifecycle")
        yield base, services


async def rename(sim: Sim, uid: str, name: str) -> None:
    async with httpx.AsyncClient() as http:
        (await http.post(f"{sim.base_url}/_sim/rename", json={"uid": uid, "name": name})).raise_for_status()


def quiet_players(sim: Sim, n: int) -> list[str]:
    return [e.uid for e in sim.simulation.snapshot() if e.wagered.this_week == 0 and e.wagered.this_month == 0][:n]


# ---- docs/races.md's recipe, written here from the document (not from the server's code) ----


def doc_cents(amount: float) -> int:
    """"the amount's shortest decimal form times 100, rounded half away from zero"."""
    return int((Decimal(repr(amount)) * 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def doc_time(text: str) -> str:
    """"UTC, to the second (a fraction is dropped), with Z"."""
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def doc_share(share: float) -> str:
    """"the percentage as a decimal string: no exponent, no trailing zeros, no trailing point"."""
    text = format(Decimal(repr(share)), "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def recomputed(detail: dict) -> bytes:
    race = detail["race"]
    document = {
        "format": "goated-race-final/1",
        "race_id": race["id"],
        "title": race["title"],
        "kind": race["kind"],
        "starts_at": doc_time(race["starts_at"]),
        "ends_at": doc_time(race["ends_at"]),
        "pool_cents": race["pool_cents"],
        "split_percent": [doc_share(s) for s in race["split"]],
        "prizes_cents": race["prizes_cents"],
        "min_wager_cents": doc_cents(race["min_wager"]),
        "standings": [
            {"position": s["position"], "uid": s["uid"], "name": s["name"], "amount_cents": doc_cents(s["amount"]), "prize_cents": s["prize_cents"]}
            for s in detail["standings"]
        ],
    }
    return json.dumps(document, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode("utf-8")


async def doc_script(base: str, race_id: int) -> str:
    """Run docs/races.md's "Rebuild it yourself" script against the app; what it prints."""
    text = (ROOT / "docs" / "races.md").read_text()
    section = text[text.index("### Rebuild it yourself"):]
    script = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", script, base, str(race_id), stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 0, err.decode()
    return out.decode().strip()


async def test_a_settled_race_can_be_checked_by_anyone(database_url: str) -> None:
    async with running_sim(speed=0) as sim:
        clock = Clock(aligned(SIM_START))
        t0 = clock.now
        settings = live_settings(database_url, sim, admin_token=TOKEN)
        async with served(settings, clock) as (base, services), httpx.AsyncClient(base_url=base, headers=AUTH) as http:
            lifecycle = services.races.lifecycle
            assert (await services.sync.run_once("test")).status == "ok"
            a, b, c, d, e = quiet_players(sim, 5)
            names = {a: "Alice", b: "Bob", c: "Carol ✨", d: '=HYPERLINK("http://x","y")', e: "+Eve"}
            for uid, name in names.items():
                await rename(sim, uid, name)
            created = await http.post("/api/admin/races", json={
                "title": "Trust sprint", "kind": "custom", "starts_at": iso(t0 + timedelta(seconds=10)),
                "ends_at": iso(t0 + timedelta(hours=1)), "pool_cents": 10_000, "split": [50, 30, 20], "min_wager": 10,
            })
            assert created.status_code == 201, created.text
            race_id = created.json()["id"]
            clock.advance(10)
            await lifecycle.step()
            await lifecycle.drain()  # started; the start sync took the baseline
            for uid, amount in ((a, 500), (b, 500), (c, 120.5), (d, 50), (e, 9.99)):
                await wager(sim, uid, amount)
            clock.advance(600)
            assert (await services.sync.run_once("test")).status == "ok"

            live = (await http.get(f"/api/races/{race_id}")).json()
            assert live["final_sha256"] is None and live["race"]["final_sha256"] is None
            early = await http.get(f"/api/races/{race_id}/final.json")
            assert early.status_code == 404 and "no final result yet (live)" in early.json()["error"]
            assert (await http.get(f"/api/races/{race_id}/standings.csv")).text.count("\r\n") == 6  # the current standings

            clock.set(t0 + timedelta(hours=1))
            await lifecycle.step()
            await lifecycle.drain()  # ended, final sync, settled

            detail = (await http.get(f"/api/races/{race_id}", params={"limit": 1000})).json()
            digest = detail["final_sha256"]
            assert detail["race"]["status"] == "ended" and len(digest) == 64 and detail["race"]["final_sha256"] == digest
            first, second = sorted((a, b))
            assert [(s["uid"], s["position"], s["tied"], s["prize_cents"]) for s in detail["standings"]] == [
                (first, 1, 2, 4000), (second, 1, 2, 4000), (c, 3, 1, 2000), (d, 4, 1, 0), (e, 5, 1, 0),
            ]
            # 1. curl …/final.json | sha256sum
            final = await http.get(f"/api/races/{race_id}/final.json")
            assert final.status_code == 200 and final.headers["content-type"].startswith("application/json")
            assert hashlib.sha256(final.content).hexdigest() == digest
            # 2. the same bytes rebuilt from the race's API by the documented recipe
            assert recomputed(detail) == final.content
            assert hashlib.sha256(recomputed(detail)).hexdigest() == digest
            # 3. the script printed in docs/races.md, as a reader would run it
            assert await doc_script(base, race_id) == f"{digest} expected {digest}"
            listed = (await http.get("/api/races", params={"status": "ended"})).json()["races"]
            assert [r["final_sha256"] for r in listed if r["id"] == race_id] == [digest]

            csv = await http.get(f"/api/races/{race_id}/standings.csv")
            assert csv.status_code == 200 and csv.headers["content-type"] == "text/csv; charset=utf-8"
            assert csv.headers["content-disposition"] == f'attachment; filename="race-{race_id}-standings.csv"'
            assert csv.content.decode("utf-8") == (
                "position,uid,name,amount_usd,prize_usd\r\n"
                f"1,{first},{names[first]},500.00,40.00\r\n"
                f"1,{second},{names[second]},500.00,40.00\r\n"
                f"3,{c},Carol ✨,120.50,20.00\r\n"
                f"4,{d},\"'=HYPERLINK(\"\"http://x\"\",\"\"y\"\")\",50.00,0.00\r\n"
                f"5,{e},'+Eve,9.99,0.00\r\n"
            )

            audit = (await http.get(f"/api/races/{race_id}/audit")).json()
            assert [(x["action"], x["actor"]) for x in audit] == [("created", "admin"), ("settled", "system")]
            assert audit[1]["details"] == {"final_sha256": digest, "finalized": "on_time", "winners": 3}
            assert audit[1]["at"] == iso(t0 + timedelta(hours=1))

            # The Telegram announcement of the winners carries the hash.
            settled = await services.races.store.get(race_id)
            (post,) = race_posts(settled, [], clock.now)
            assert post.kind == "race_ended" and f"<code>{digest}</code>" in post.text

            # Later syncs change nothing that was hashed.
            await wager(sim, c, 10_000)
            clock.advance(60)
            assert (await services.sync.run_once("test")).status == "ok"
            assert (await http.get(f"/api/races/{race_id}/final.json")).content == final.content

            for path in ("final.json", "standings.csv", "audit"):
                missing = await http.get(f"/api/races/987654/{path}")
                assert missing.status_code == 404, path
                assert missing.json() == {"error": "no race with id 987654", "status_code": 404}
            assert (await http.get("/api/races/0/audit")).status_code == 400


async def test_every_admin_change_is_in_the_audit_log(database_url: str) -> None:
    settings_pool = {"race_weekly_pool_cents": 50_000, "race_weekly_split": (60.0, 40.0)}
    async with running_sim(speed=0) as sim, running_app(live_settings(database_url, sim, admin_token=TOKEN, **settings_pool)) as (base, _):
        async with httpx.AsyncClient(base_url=base, headers=AUTH) as http:
            now = datetime.now(UTC).replace(microsecond=0)
            starts, ends, later = now + timedelta(hours=1), now + timedelta(hours=2), now + timedelta(hours=3)
            race = (await http.post("/api/admin/races", json={
                "title": "Audit me", "starts_at": iso(starts), "ends_at": iso(ends), "pool_cents": 10_000,
                "split": [50, 30, 20], "description": "d1",
            })).json()
            path = f"/api/admin/races/{race['id']}"
            assert (await http.patch(path, json={"pool_cents": 20_000, "split": [60, 40]})).status_code == 200
            assert (await http.patch(path, json={"title": "Audited", "description": "d1"})).status_code == 200
            assert (await http.patch(path, json={"title": "Audited"})).status_code == 200  # nothing changes: not logged
            assert (await http.patch(path, json={"split": [10, 20]})).status_code == 400  # refused: not logged
            assert (await http.patch(path, json={"ends_at": iso(later), "min_wager": 25})).status_code == 200
            assert (await http.post(f"{path}/cancel")).status_code == 200
            assert (await http.post(f"{path}/cancel")).status_code == 400  # already cancelled: not logged

            audit = (await http.get(f"/api/races/{race['id']}/audit")).json()
            assert [(x["action"], x["actor"], x["details"]) for x in audit] == [
                ("created", "admin", {
                    "title": "Audit me", "kind": "custom", "starts_at": iso(starts), "ends_at": iso(ends),
                    "pool_cents": 10_000, "split": [50.0, 30.0, 20.0], "min_wager": 0.0, "description": "d1",
                }),
                ("prizes_changed", "admin", {
                    "pool_cents": {"from": 10_000, "to": 20_000}, "split": {"from": [50.0, 30.0, 20.0], "to": [60.0, 40.0]},
                }),
                ("edited", "admin", {"title": {"from": "Audit me", "to": "Audited"}}),
                ("edited", "admin", {"ends_at": {"from": iso(ends), "to": iso(later)}, "min_wager": {"from": 0.0, "to": 25.0}}),
                ("cancelled", "admin", {"status": {"from": "upcoming", "to": "cancelled"}}),
            ]
            times = [datetime.fromisoformat(x["at"]) for x in audit]
            assert times == sorted(times) and all(t.utcoffset() == timedelta(0) for t in times)

            # A live race: cancelled from live.
            running = (await http.post("/api/admin/races", json={
                "title": "Live one", "starts_at": iso(now - timedelta(seconds=5)), "ends_at": iso(ends), "pool_cents": 100, "split": [100],
            })).json()
            async with asyncio.timeout(10):
                while (await http.get(f"/api/races/{running['id']}")).json()["race"]["status"] != "live":
                    await asyncio.sleep(0.05)
            await http.patch(f"/api/admin/races/{running['id']}", json={"title": "Live two"})
            await http.post(f"/api/admin/races/{running['id']}/cancel")
            audit = (await http.get(f"/api/races/{running['id']}/audit")).json()
            assert [(x["action"], x["details"].get("status")) for x in audit] == [
                ("created", None), ("edited", None), ("cancelled", {"from": "live", "to": "cancelled"}),
            ]

            # Automatic races are created by the system.
            async with asyncio.timeout(10):
                while not (weekly := [r for r in (await http.get("/api/races")).json()["races"] if r["kind"] == "weekly"]):
                    await asyncio.sleep(0.05)
            audit = (await http.get(f"/api/races/{weekly[0]['id']}/audit")).json()
            assert [(x["action"], x["actor"], x["details"]["kind"], x["details"]["pool_cents"]) for x in audit] == [
                ("created", "system", "weekly", 50_000),
            ]

            doc = (await http.get("/schema/openapi.json")).json()["paths"]
            for p in ("/api/races/{race_id}/final.json", "/api/races/{race_id}/standings.csv", "/api/races/{race_id}/audit"):
                assert "404" in doc[p]["get"]["responses"], p


def _previous_migration() -> str:
    """The id of the migration before this feature's: the schema a deployment had before it."""
    folder = Path(APP_CONFIG.migrations_folder_path)
    ids = sorted(importlib.import_module(f"piccolo_migrations.goated.{f.stem}").ID for f in folder.glob("goated_*.py"))
    return ids[ids.index(THIS_MIGRATION) - 1]


async def test_a_database_from_the_previous_schema_migrates(database_url: str) -> None:
    engine = make_engine(database_url)
    bind_engine(engine)
    await open_pool(engine)
    try:
        result = await run_forwards(app_name="goated", migration_id=_previous_migration())
        assert result.success, result.message
        start, end = datetime(2026, 10, 1, tzinfo=UTC), datetime(2026, 11, 1, tzinfo=UTC)
        # A race settled under the previous schema, and its standings.
        await engine.run_ddl(
            "INSERT INTO races (id, version, title, kind, status, starts_at, ends_at, pool_cents, split, min_wager, "
            "description, auto_key, created_at, updated_at, finalized, finalized_at, winners) VALUES "
            f"(7, 5, 'October', 'monthly', 'ended', '{start.isoformat()}', '{end.isoformat()}', 10000, '[60.0, 40.0]', 0, "
            f"'', 'monthly:2026-10', '{start.isoformat()}', '{end.isoformat()}', 'on_time', '{end.isoformat()}', "
            """'[{"position":1,"uid":"u1","name":"one","amount":50.0,"prize_cents":6000}]')"""
        )
        await engine.run_ddl(
            "INSERT INTO race_standings (key, race_id, uid, name, position, prev_position, amount, prize_cents, gap, qualified) "
            "VALUES ('7:u1', 7, 'u1', 'one', 1, 1, 50.0, 6000, NULL, TRUE)"
        )
        await migrate(engine)
        await migrate(engine)  # idempotent
    finally:
        await close_pool(engine)

    async with running_sim() as sim, running_app(live_settings(database_url, sim, admin_token=TOKEN)) as (base, _):
        async with httpx.AsyncClient(base_url=base, headers=AUTH) as http:
            detail = (await http.get("/api/races/7")).json()
            assert detail["final_sha256"] is None and detail["race"]["winners"][0]["prize_cents"] == 6000
            assert [(s["uid"], s["position"], s["tied"]) for s in detail["standings"]] == [("u1", 1, 1)]
            old = await http.get("/api/races/7/final.json")
            assert old.status_code == 404 and "settled before final standings were archived" in old.json()["error"]
            assert (await http.get("/api/races/7/audit")).json() == []
            assert (await http.get("/api/races/7/standings.csv")).text == "position,uid,name,amount_usd,prize_usd\r\n1,u1,one,50.00,60.00\r\n"
            # The new table and columns work on the migrated database.
            made = await http.post("/api/admin/races", json={
                "title": "After the upgrade", "starts_at": iso(datetime.now(UTC) + timedelta(hours=1)),
                "ends_at": iso(datetime.now(UTC) + timedelta(hours=2)), "pool_cents": 100, "split": [100],
            })
            assert made.status_code == 201, made.text
            assert [x["action"] for x in (await http.get(f"/api/races/{made.json()['id']}/audit")).json()] == ["created"]
