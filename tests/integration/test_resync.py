"""One resync: a follower that lost Redis across a race's end rebuilds its boards and its
races from the database once Redis is back, and its viewers see what the leader's see."""

from __future__ import annotations

import asyncio
import json
import uuid
from urllib.parse import urlsplit

import httpx
import websockets

from tests.conftest import live_settings, running_app, running_sim
from tests.integration.test_live_core import recv_json, ws_url
from tests.integration.test_outages import via_proxy
from tests.integration.test_races_api import AUTH, TOKEN, custom
from tests.tcp_proxy import TcpProxy


async def race_message(ws: websockets.ClientConnection, predicate, timeout: float) -> dict:  # noqa: ANN001
    """The first `race` message (a snapshot of race:current) that satisfies `predicate`."""
    async with asyncio.timeout(timeout):
        while True:
            msg = await recv_json(ws, timeout)
            if msg["type"] == "race" and predicate(msg):
                return msg


async def test_a_follower_cut_from_redis_across_a_race_end_shows_it_ended(pg_url: str, redis_url: str) -> None:
    target = urlsplit(redis_url)
    proxy = await TcpProxy(target.hostname or "127.0.0.1", target.port or 6379).start()
    try:
        async with running_sim(speed=0) as sim:
            prefix = f"goated-test:{uuid.uuid4().hex[:8]}"  # one deployment: both replicas share it
            common = {"redis_prefix": prefix, "admin_token": TOKEN}
            leader_settings = live_settings(pg_url, sim, redis_url=redis_url, **common)
            follower_settings = live_settings(pg_url, sim, redis_url=via_proxy(redis_url, proxy), **common)
            async with running_app(leader_settings) as (leader_base, leader):
                async with running_app(follower_settings) as (follower_base, follower), httpx.AsyncClient() as http:
                    assert leader.is_leader and not follower.is_leader
                    assert (await leader.sync.run_once("test")).status == "ok"
                    made = await http.post(f"{leader_base}/api/admin/races", json=custom(-1, 5, title="Cut sprint"), headers=AUTH)
                    assert made.status_code == 201, made.text
                    race_id = made.json()["id"]

                    async with websockets.connect(ws_url(follower_base)) as viewer:
                        await viewer.send(json.dumps({"op": "subscribe", "channel": "race:current"}))
                        await race_message(viewer, lambda m: (m["race"] or {}).get("id") == race_id, timeout=10)

                        async with asyncio.timeout(10):  # the follower heard the race start
                            while (view := follower.races.live.view(race_id)) is None or view.race.status.value != "live":
                                await asyncio.sleep(0.05)
                        proxy.cut()
                        backend = follower.channels._backend  # noqa: SLF001
                        async with asyncio.timeout(15):
                            while backend.connected:
                                await asyncio.sleep(0.05)
                        # The race ends and is archived on the leader while the follower hears nothing.
                        async with asyncio.timeout(30):
                            while True:
                                race = (await http.get(f"{leader_base}/api/races/{race_id}")).json()["race"]
                                if race["status"] == "ended" and race.get("finalized"):
                                    break
                                await asyncio.sleep(0.2)
                        # What the follower serves its viewers from memory still says "live".
                        assert follower.races.live.view(race_id).race.status.value == "live"

                        proxy.restore()
                        ended = await race_message(
                            viewer, lambda m: m["race"] is None or m["race"]["status"] != "live", timeout=20
                        )
                        assert ended["race"] is None or ended["race"]["status"] == "ended"

                    # Leader and follower agree, for viewers who join now too.
                    for path in (f"/api/races/{race_id}", "/api/races/current"):
                        on_leader = (await http.get(leader_base + path)).json()
                        on_follower = (await http.get(follower_base + path)).json()
                        assert on_follower["race"] == on_leader["race"], path
                        assert on_follower["winners"] == on_leader["winners"], path
                    async with websockets.connect(ws_url(follower_base)) as late:
                        await late.send(json.dumps({"op": "subscribe", "channel": f"race:{race_id}"}))
                        snap = await recv_json(late)
                        assert snap["race"]["status"] == "ended"
                    health = (await http.get(f"{follower_base}/health")).json()["parts"]
                    assert health["channels"]["status"] == "ok"
    finally:
        await proxy.stop()
