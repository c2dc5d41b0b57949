"""NAME_MASK=partial on the real app over HTTP: no public endpoint (leaderboard, search, player,
race API, standings.csv, final.json, websocket, /sse, Telegram outbox) returns a real name;
searching a name's hidden part finds nobody; the linked player alone gets their own back."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
import websockets

from server.leaderboard.privacy import NameMask
from server.telegram.announcer import race_posts
from server.telegram.tables import OutboxRow
from tests.conftest import SIM_START, live_settings, running_sim
from tests.integration.race_support import Clock, aligned, wager
from tests.integration.test_telegram_commands import ADMIN, Bot, bot_on
from tests.integration.test_live_core import ws_url
from tests.integration.test_race_trust import AUTH, TOKEN, iso, quiet_players, rename, served
from tests.integration.test_sse import stream, ws_text
from tests.integration.test_telegram_web import signed
from tests.telegram_fake import TEST_TELEGRAM, FakeTelegram

# Real name -> what everyone sees. Each real name has a part that only the real name holds.
NAMES = {
    "Maximilian Secretname": "Ma***e",
    "Zoë Ünïcode": "Zo***e",
    "Anna": "A***a",
    "Bob": "B***",
}
# Parts no other text holds (a short name like "Bob" could be inside a random uid): the
# short names are checked where names are, field by field.
HIDDEN_PARTS = ("Maximilian Secretname", "Maximilian", "Secretname", "ximil", "Zoë Ünïcode", "Ünïcode", "nïcod")


def leaks(text: str) -> list[str]:
    """The hidden parts of the real names that `text` shows."""
    return [part for part in HIDDEN_PARTS if part in text]


def names_in(value: object) -> set[str]:
    """Every `name` field in a decoded JSON document."""
    if isinstance(value, dict):
        return {v for k, v in value.items() if k == "name" and isinstance(v, str)} | {n for v in value.values() for n in names_in(v)}
    if isinstance(value, list):
        return {n for v in value for n in names_in(v)}
    return set()


async def test_no_public_surface_returns_a_real_name(sqlite_url: str) -> None:
    async with running_sim(speed=0) as sim:
        clock = Clock(aligned(SIM_START))
        t0 = clock.now
        settings = live_settings(
            sqlite_url, sim, admin_token=TOKEN, name_mask=NameMask.PARTIAL,
            **TEST_TELEGRAM, telegram_channel="@goatedlive_test", telegram_bot_in_serve=False,  # type: ignore[arg-type]
            telegram_periods=("today", "weekly", "monthly", "all_time"),
        )
        async with served(settings, clock) as (base, services), httpx.AsyncClient(base_url=base, headers=AUTH) as http:
            lifecycle = services.races.lifecycle
            uids = dict(zip(NAMES, quiet_players(sim, len(NAMES)), strict=True))
            for name, uid in uids.items():
                await rename(sim, uid, name)
            assert (await services.sync.run_once("test")).status == "ok"
            created = await http.post("/api/admin/races", json={
                "title": "Masked sprint", "kind": "custom", "starts_at": iso(t0 + timedelta(seconds=10)),
                "ends_at": iso(t0 + timedelta(hours=1)), "pool_cents": 10_000, "split": [50, 30, 20],
            })
            assert created.status_code == 201, created.text
            race_id = created.json()["id"]
            clock.advance(10)
            await lifecycle.step()
            await lifecycle.drain()  # started: the baseline taken
            top = (await http.get("/api/leaderboard/all_time", params={"limit": 1})).json()["rows"][0]["amount"]
            assert top < 4_000_000
            for i, uid in enumerate(uids.values()):
                await wager(sim, uid, 5_000_000 - 100_000 * i)  # the top four of every board, in this order
            clock.advance(600)

            async with websockets.connect(ws_url(base)) as ws:
                await ws.send(json.dumps({"op": "subscribe", "channel": "leaderboard:all_time"}))
                snapshot_before = await ws_text(ws, "snapshot")
                assert (await services.sync.run_once("test")).status == "ok"
                delta = await ws_text(ws, "delta")
                await ws.send(json.dumps({"op": "subscribe", "channel": "leaderboard:monthly"}))
                snapshot = await ws_text(ws, "snapshot")
            assert [c["name"] for c in json.loads(delta)["changes"][:4]] == list(NAMES.values())
            assert [r["name"] for r in json.loads(snapshot)["rows"][:4]] == list(NAMES.values())
            async with stream(base, "leaderboard:weekly", limit=10) as events:
                sse = (await events.event()).data or ""
            assert [r["name"] for r in json.loads(sse)["rows"][:4]] == list(NAMES.values())

            clock.set(t0 + timedelta(hours=1))
            await lifecycle.step()
            await lifecycle.drain()  # ended, final sync, settled

            bodies: dict[str, str] = {"ws snapshot before": str(snapshot_before), "ws delta": str(delta),
                                      "ws snapshot": str(snapshot), "sse snapshot": sse}
            paths = [f"/api/leaderboard/{p}?limit=1000" for p in ("today", "weekly", "monthly", "all_time")]
            paths += [f"/api/players/{uid}" for uid in uids.values()]
            paths += [f"/api/races/{race_id}?limit=1000", f"/api/races/{race_id}/standings.csv", f"/api/races/{race_id}/final.json",
                      "/api/races/current", "/api/races?status=ended"]
            paths += [f"/api/races/{race_id}/players/{uid}" for uid in uids.values()]
            for path in paths:
                r = await http.get(path)
                assert r.status_code == 200, (path, r.text)
                bodies[path] = r.text
            for name, masked in NAMES.items():
                player = json.loads(bodies[f"/api/players/{uids[name]}"])
                assert (player["name"], player["history"] != []) == (masked, True)
            detail = json.loads(bodies[f"/api/races/{race_id}?limit=1000"])
            assert [s["name"] for s in detail["standings"]] == list(NAMES.values())
            assert [w["name"] for w in detail["winners"]] == list(NAMES.values())[:3]
            final = bodies[f"/api/races/{race_id}/final.json"]
            assert hashlib.sha256(final.encode()).hexdigest() == detail["final_sha256"]  # the hash is of the masked record
            assert [s["name"] for s in json.loads(final)["standings"]] == list(NAMES.values())
            assert bodies[f"/api/races/{race_id}/standings.csv"].splitlines()[1:] == [
                f"1,{uids['Maximilian Secretname']},Ma***e,5000000.00,50.00",
                f"2,{uids['Zoë Ünïcode']},Zo***e,4900000.00,30.00",
                f"3,{uids['Anna']},A***a,4800000.00,20.00",
                f"4,{uids['Bob']},B***,4700000.00,0.00",
            ]

            # Telegram: the digests the syncs wrote and the race's posts.
            posts = [r["text"] for r in await OutboxRow.select(OutboxRow.text).where(OutboxRow.chat == "channel").run()]
            assert any("Ma***e" in text for text in posts), posts
            settled = await services.races.store.get(race_id)
            posts += [p.text for p in race_posts(settled, await services.races.store.standings(race_id), clock.now)]
            assert any("🥇 <b>Ma***e</b>" in text for text in posts), posts

            for where, text in [*bodies.items(), *(("telegram", t) for t in posts)]:
                assert leaks(text) == [], (where, leaks(text))
                if where != "telegram" and not where.endswith(".csv"):
                    assert names_in(json.loads(text)) & set(NAMES) == set(), where

            # The stored record keeps the real name: it is what the player alone gets back.
            assert (await services.store.player(uids["Anna"]) or {})["name"] == "Anna"


async def test_search_matches_the_masked_form_only(sqlite_url: str) -> None:
    async with running_sim(speed=0) as sim:
        settings = live_settings(sqlite_url, sim, name_mask=NameMask.PARTIAL)
        async with served(settings, Clock(aligned(SIM_START))) as (base, services), httpx.AsyncClient(base_url=base) as http:
            uids = dict(zip(NAMES, quiet_players(sim, len(NAMES)), strict=True))
            for name, uid in uids.items():
                await rename(sim, uid, name)
                await wager(sim, uid, 100)
            assert (await services.sync.run_once("test")).status == "ok"

            async def found(q: str) -> list[str]:
                r = await http.get("/api/leaderboard/all_time", params={"q": q, "limit": 1000})
                assert r.status_code == 200, r.text
                return [row["uid"] for row in r.json()["rows"]]

            for hidden in ("Secretname", "Maximilian Secretname", "ximil", "Ünïcode", "Anna", "nn", "Bob", "ob"):
                assert await found(hidden) == [], hidden
            maximilian = uids["Maximilian Secretname"]
            assert await found("Ma***e") == [maximilian]  # what the board shows finds it
            assert await found("ma***E") == [maximilian]  # forgiving case, as ever
            assert maximilian in await found("ma")
            assert set(await found("B***")) >= {uids["Bob"]}


async def test_the_linked_player_alone_gets_their_real_name(sqlite_url: str) -> None:
    async with running_sim(players=40, speed=0) as sim:
        settings = live_settings(sqlite_url, sim, name_mask=NameMask.PARTIAL, **TEST_TELEGRAM, telegram_bot_in_serve=False)  # type: ignore[arg-type]
        async with served(settings, Clock(aligned(SIM_START))) as (base, services):
            uid = quiet_players(sim, 1)[0]
            await rename(sim, uid, "Maximilian Secretname")
            await wager(sim, uid, 100)
            assert (await services.sync.run_once("test")).status == "ok"
            now = datetime.now(UTC)
            request = await services.telegram.links.request(555, "Ann", uid, "Ma***e", now)
            await services.telegram.links.approve(request.id, "test", now)
            await services.telegram.links.request(556, "Ben", quiet_players(sim, 2)[1], "B***", now)

            async def me(telegram_id: int | None) -> httpx.Response:
                async with httpx.AsyncClient(base_url=base) as http:
                    if telegram_id is not None:
                        login = await http.post("/api/auth/telegram", json=signed({"id": telegram_id, "first_name": "Ann", "auth_date": int(time.time())}))
                        assert login.status_code == 200, login.text
                    return await http.get("/api/me")

            mine = await me(555)
            assert mine.json()["player"] == {"uid": uid, "name": "Maximilian Secretname"}
            assert mine.json()["link"]["player_name"] == "Ma***e"
            assert "no-store" in mine.headers["cache-control"] and "private" in mine.headers["cache-control"]
            pending = await me(556)  # a request not approved yet: no name
            assert pending.json()["player"] is None and "Secretname" not in pending.text
            anonymous = await me(None)
            assert anonymous.json() == {"signed_in": False, "telegram": None, "link": None, "player": None, "positions": [], "race": None}


# ---- Telegram, at the session layer: real kurigram Client and Message objects ------------------


@pytest.fixture
async def masked_bot(sqlite_url: str) -> AsyncIterator[Bot]:
    fake = FakeTelegram()
    clock = Clock(aligned(SIM_START))
    async with running_sim(players=80) as sim:
        snapshot = sim.simulation.snapshot()
        for i, e in enumerate(snapshot[:12]):
            sim.simulation.wager(e.uid, 1000.0 * (12 - i))
        sim.simulation.rename(snapshot[0].uid, "Maximilian Secretname")
        sim.simulation.rename(snapshot[1].uid, "Alice Wonder")
        sim.simulation.rename(snapshot[2].uid, "Alicia Wonders")
        settings = live_settings(
            sqlite_url, sim, **TEST_TELEGRAM, telegram_admin_ids=(ADMIN,), name_mask=NameMask.PARTIAL,  # type: ignore[arg-type]
            telegram_periods=("all_time",),
        )
        async with bot_on(settings, sim, clock, fake, snapshot[0].uid) as bot:
            yield bot


async def test_the_bot_shows_and_finds_masked_names_only(masked_bot: Bot) -> None:
    bot = masked_bot
    top = await bot.say("/top all")
    assert top is not None and "🥇 Ma***e — $12,000.00" in top and "🥈 Al***r — $11,000.00" in top
    assert "🥉 Al***s — $10,000.00" in top
    assert leaks(top) == [] and "Alice" not in top and "Wonder" not in top
    # The hidden part finds nobody, and no suggestion gives a real name away.
    assert await bot.say("/rank Maximilian Secretname") == "No player called Maximilian Secretname on the boards."
    assert await bot.say("/rank alice wonder") == "No player called alice wonder on the boards."
    rank = await bot.say("/rank ma***e")
    assert rank is not None and rank.startswith("👤 Ma***e") and "All time: #1 of" in rank
    assert "Did you mean: Al***r, Al***s?" in (await bot.say("/rank Al**r") or "")

    # Linking goes by the name everyone sees; the admin and the channel see it masked.
    assert (await bot.say("/link Al***r")).startswith("Request #1 sent: an admin will confirm that you are Al***r.")  # type: ignore[union-attr]
    assert (await bot.say("/approve 1", ADMIN)) == "✅ #1 approved: Ann is Al***r."
    assert (await bot.say("/alerts on") or "").startswith("🔔 Alerts are on")

    # A sync: Alice passes the leader. Her own DM has her name; nothing else does.
    bot.sim.simulation.wager(bot.deps.players.find("Al***r")[0], 5000)  # type: ignore[attr-defined,union-attr]
    assert (await bot.services.sync.run_once("test")).status == "ok"
    rows = await OutboxRow.select(OutboxRow.kind, OutboxRow.chat, OutboxRow.text).order_by(OutboxRow.id).run()
    alerts = [r["text"] for r in rows if r["kind"] == "alert"]
    assert alerts == ["🔔 <b>Alice Wonder</b>\n📈 All time: up to #1 (was #2)"]
    for row in rows:
        if row["kind"] != "alert":
            assert leaks(row["text"]) == [] and "Alice Wonder" not in row["text"], row
