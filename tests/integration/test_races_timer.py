"""The race timer channel end to end: a real server on the real clock, a real websocket
client, a race a few seconds long: countdown, start, standings after a sync, the end on its
second, the winners, and the archived result in the API."""

from __future__ import annotations

import asyncio
import json
import math
import time
from datetime import UTC, datetime, timedelta

import httpx
import websockets

from tests.conftest import live_settings, running_app, running_sim
from tests.integration.race_support import wager
from tests.integration.test_live_core import recv_json, ws_url

TOKEN = "timer-test-token"


async def next_of(ws: websockets.ClientConnection, type_: str, log: list[dict], timeout: float = 6.0) -> dict:
    """The next message of `type_`, keeping everything received on the way in `log`."""
    async with asyncio.timeout(timeout):
        while True:
            msg = await recv_json(ws, timeout)
            msg["_at"] = time.time()
            log.append(msg)
            if msg["type"] == type_:
                return msg


async def test_race_current_counts_down_moves_and_ends_on_time(database_url: str) -> None:
    async with running_sim(speed=0) as sim, running_app(live_settings(database_url, sim, admin_token=TOKEN)) as (base, services):
        assert (await services.sync.run_once("test")).status == "ok"
        a, b, c = [e.uid for e in sim.simulation.snapshot()[:3]]
        async with httpx.AsyncClient(base_url=base) as http, websockets.connect(ws_url(base)) as ws:
            await ws.send(json.dumps({"op": "subscribe", "channel": "race:current"}))
            log: list[dict] = []
            empty = await next_of(ws, "race", log)
            assert empty["race"] is None and empty["channel"] == "race:current"

            start = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=3)
            end = start + timedelta(seconds=5)
            created = await http.post(
                "/api/admin/races",
                headers={"Authorization": f"Bearer {TOKEN}"},
                json={"title": "Five seconds", "starts_at": start.isoformat(), "ends_at": end.isoformat(),
                      "pool_cents": 10_000, "split": [70, 30]},
            )
            assert created.status_code == 201, created.text
            race_id = created.json()["id"]

            shown = await next_of(ws, "race", log)
            assert shown["race"]["id"] == race_id and shown["race"]["status"] == "upcoming"
            assert shown["seq"] == empty["seq"] + 1 and 1 <= shown["seconds_left"] <= 3

            tick = await next_of(ws, "tick", log)
            assert tick["race_id"] == race_id and tick["status"] == "upcoming" and tick["seq"] == shown["seq"]
            started = await next_of(ws, "status", log)
            assert (started["status"], started["previous"]) == ("live", "upcoming")
            assert started["_at"] - start.timestamp() < 1.0  # at the start's second, not at a sync

            baseline = await next_of(ws, "standings", log)  # the start's own sync: the baseline
            assert baseline["race_id"] == race_id and baseline["standings"] == []
            await wager(sim, a, 300)
            await wager(sim, b, 500)
            await wager(sim, c, 100)
            assert (await services.sync.run_once("test")).status == "ok"
            moved = await next_of(ws, "standings", log)
            assert [(r["position"], r["amount"], r["prize_cents"], r["gap"]) for r in moved["standings"]] == [
                (1, 500, 7000, None), (2, 300, 3000, 200), (3, 100, 0, 200),
            ]

            live_tick = await next_of(ws, "tick", log)
            assert live_tick["status"] == "live" and 0 <= live_tick["seconds_left"] <= 5

            ended = await next_of(ws, "status", log, timeout=8)
            assert (ended["status"], ended["previous"]) == ("ended", "live")
            assert 0 <= ended["_at"] - end.timestamp() < 1.0  # on its second
            result = await next_of(ws, "race_ended", log, timeout=12)
            assert result["race_id"] == race_id and result["finalized"] == "on_time"
            assert [(w["position"], w["uid"], w["prize_cents"]) for w in result["winners"]] == [(1, b, 7000), (2, a, 3000)]

            # Ticks counted down one second at a time and never moved seq; the rest moved it by one.
            ticks = [m for m in log if m["type"] == "tick" and m["status"] == "live"]
            lefts = [t["seconds_left"] for t in ticks]
            assert lefts == sorted(lefts, reverse=True) and len(set(lefts)) == len(lefts)
            # One tick per wall second: a ticker woken a hair early once ticked a second twice.
            ticked = [math.floor(datetime.fromisoformat(m["server_now"]).timestamp()) for m in log if m["type"] == "tick"]
            assert ticked == sorted(set(ticked)), ticked
            seqs = [m["seq"] for m in log if m["type"] != "tick"]
            assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))
            last_seq = -1
            for m in log:
                if m["type"] == "tick":
                    assert m["seq"] == last_seq
                else:
                    last_seq = m["seq"]

            archived = (await http.get(f"/api/races/{race_id}")).json()
            assert archived["race"]["status"] == "ended" and archived["race"]["finalized"] == "on_time"
            assert [(w["uid"], w["prize_cents"]) for w in archived["winners"]] == [(b, 7000), (a, 3000)]
            assert [r["uid"] for r in archived["standings"]] == [b, a, c]
            listed = (await http.get("/api/races", params={"status": "ended"})).json()
            assert [r["id"] for r in listed["races"]] == [race_id]

        # A late subscriber to race:{id} gets the archived state at once.
        async with websockets.connect(ws_url(base)) as ws:
            await ws.send(json.dumps({"op": "subscribe", "channel": f"race:{race_id}"}))
            snap = await recv_json(ws)
            assert snap["type"] == "race" and snap["race"]["status"] == "ended" and snap["seconds_left"] == 0
            assert [r["uid"] for r in snap["standings"]] == [b, a, c]
            await ws.send(json.dumps({"op": "subscribe", "channel": "race:424242"}))
            assert (await recv_json(ws))["code"] == "unknown_channel"
