"""'N watching' on the real app: websocket viewers counted per channel, at most one presence
message per channel per interval, summed across replicas through Redis, a replica killed
without a word dropping out after its key's TTL, and local counts while Redis is away."""

from __future__ import annotations

import asyncio
import json
import signal
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from urllib.parse import urlsplit

import httpx
import websockets

from server.realtime.presence import TTL_INTERVALS
from tests.conftest import live_settings, running_app, running_sim
from tests.integration.test_live_core import recv_json, ws_url
from tests.integration.test_outages import via_proxy
from tests.integration.test_replicas import replica, replica_env
from tests.tcp_proxy import TcpProxy

INTERVAL = 0.5  # PRESENCE_INTERVAL in these tests (5 s in production)
MONTHLY = "leaderboard:monthly"


async def subscribe(ws: websockets.ClientConnection, channel: str = MONTHLY) -> int:
    """Subscribe; the snapshot comes first, then the count: returns the count."""
    await ws.send(json.dumps({"op": "subscribe", "channel": channel}))
    snapshot = await recv_json(ws, presence=True)
    assert snapshot["type"] == "snapshot" and snapshot["channel"] == channel
    presence = await recv_json(ws, presence=True)
    assert presence["type"] == "presence" and presence["channel"] == channel, presence
    assert set(presence) == {"type", "channel", "watching"}, "no seq: presence is not part of the channel's sequence"
    return presence["watching"]


@asynccontextmanager
async def viewers(base: str, n: int, channel: str = MONTHLY) -> AsyncIterator[list[websockets.ClientConnection]]:
    async with AsyncExitStack() as stack:
        sockets = [await stack.enter_async_context(websockets.connect(ws_url(base))) for _ in range(n)]
        for ws in sockets:
            await subscribe(ws, channel)
        yield sockets


async def watching_becomes(ws: websockets.ClientConnection, n: int, timeout: float = 10.0, channel: str = MONTHLY) -> list[int]:
    """Read presence messages until one says `n`; returns every count seen on the way."""
    seen: list[int] = []
    async with asyncio.timeout(timeout):
        while not seen or seen[-1] != n:
            msg = await recv_json(ws, timeout, presence=True)
            if msg["type"] == "presence":
                assert msg["channel"] == channel
                seen.append(msg["watching"])
    return seen


async def presence_part(base: str) -> dict:
    async with httpx.AsyncClient() as http:
        return (await http.get(f"{base}/health")).json()["parts"]["presence"]


async def test_viewers_are_counted_per_channel_and_told_at_most_once_per_interval(sqlite_url: str) -> None:
    async with running_sim() as sim, running_app(live_settings(sqlite_url, sim, presence_interval=INTERVAL)) as (base, services):
        assert (await services.sync.run_once("test")).status == "ok"
        async with websockets.connect(ws_url(base)) as watcher, websockets.connect(ws_url(base)) as elsewhere:
            assert await subscribe(watcher) == 1, "the first viewer counts itself at once"
            assert await subscribe(elsewhere, "leaderboard:weekly") == 1

            async with viewers(base, 3) as joined:
                # Each newcomer is told the count right away, itself included.
                assert await watching_becomes(watcher, 4) == [4], "the three joins come as one message"
                for ws in joined[:2]:
                    await ws.close()
                assert await watching_becomes(watcher, 2) == [2]
                # Resuming (`since`) is answered with the count too.
                await watching_becomes(joined[2], 2)  # what it was sent so far
                await joined[2].send(json.dumps({"op": "subscribe", "channel": MONTHLY, "since": services.live.seq}))
                resumed = await recv_json(joined[2], presence=True)
                assert resumed == {"type": "presence", "channel": MONTHLY, "watching": 2}

                # Churn: viewers come and go many times per interval; the watcher hears the
                # count at most once per interval, never once per join or leave.
                arrivals: list[float] = []

                async def listen() -> None:
                    while True:
                        msg = await recv_json(watcher, 30, presence=True)
                        if msg["type"] == "presence":
                            arrivals.append(time.monotonic())

                listener = asyncio.create_task(listen())
                churn_for = 6 * INTERVAL
                started = time.monotonic()
                joins = 0
                while time.monotonic() - started < churn_for:
                    async with websockets.connect(ws_url(base)) as ws:
                        await subscribe(ws)
                        joins += 1
                        await asyncio.sleep(0.02)
                await asyncio.sleep(2 * INTERVAL)  # the settled count goes out
                listener.cancel()
                window = time.monotonic() - started
                assert joins > 20
                assert 1 <= len(arrivals) <= window / INTERVAL + 1, (len(arrivals), window)
                gaps = [b - a for a, b in zip(arrivals, arrivals[1:])]
                assert all(gap >= INTERVAL * 0.8 for gap in gaps), gaps  # arrival jitter aside

                assert services.presence.totals == {MONTHLY: 2, "leaderboard:weekly": 1}
                part = await presence_part(base)
                assert part["status"] == "ok" and part["info"]["counting"] == "this process (no redis)"
                assert part["info"]["watching"] == {MONTHLY: 2, "leaderboard:weekly": 1}

            # The weekly viewer heard nothing about the monthly board's comings and goings.
            try:
                while True:
                    msg = await recv_json(elsewhere, 0.2, presence=True)
                    assert msg["channel"] == "leaderboard:weekly", msg
            except TimeoutError:
                pass


async def test_two_replicas_sum_their_viewers_and_a_killed_one_drops_out_after_its_ttl(pg_url: str, redis_url: str) -> None:
    async with running_sim(players=200) as sim:
        env = replica_env(pg_url, redis_url, sim.base_url, sync_interval="3600", PRESENCE_INTERVAL=str(INTERVAL))
        async with replica(env) as (base_a, _), replica(env) as (base_b, proc_b):
            async with websockets.connect(ws_url(base_a)) as watcher, viewers(base_a, 1), viewers(base_b, 3) as on_b:
                await subscribe(watcher)
                assert (await watching_becomes(watcher, 5))[-1] == 5, "A's viewer counts B's too"
                assert (await watching_becomes(on_b[0], 5))[-1] == 5, "and B's counts A's"
                part = await presence_part(base_a)
                assert part["status"] == "ok" and part["info"]["replicas"] == 2
                assert part["info"]["watching"][MONTHLY] == 5

                proc_b.send_signal(signal.SIGKILL)  # no goodbye: its count stays until its key expires
                killed = time.monotonic()
                seen = await watching_becomes(watcher, 2, timeout=INTERVAL * TTL_INTERVALS + 5)
                assert set(seen) <= {5, 2}, seen
                assert time.monotonic() - killed <= INTERVAL * (TTL_INTERVALS + 2) + 1.0
                assert (await presence_part(base_a))["info"]["replicas"] == 1


async def test_redis_away_counts_local_viewers_says_so_and_recovers(sqlite_url: str, redis_url: str, tmp_path) -> None:  # noqa: ANN001
    target = urlsplit(redis_url)
    proxy = await TcpProxy(target.hostname or "127.0.0.1", target.port or 6379).start()
    db = f"sqlite:///{tmp_path / 'shared.sqlite'}"
    try:
        async with running_sim() as sim:
            prefix = f"goated-test:{uuid.uuid4().hex[:8]}"  # one deployment: both replicas share it
            cut_off = live_settings(db, sim, redis_url=via_proxy(redis_url, proxy), redis_prefix=prefix, presence_interval=INTERVAL)
            steady = live_settings(db, sim, redis_url=redis_url, redis_prefix=prefix, presence_interval=INTERVAL)
            async with running_app(cut_off) as (base_a, a), running_app(steady) as (base_b, _):
                assert (await a.sync.run_once("test")).status == "ok"
                async with websockets.connect(ws_url(base_a)) as watcher, viewers(base_b, 2) as on_b:
                    await subscribe(watcher)
                    assert (await watching_becomes(watcher, 3))[-1] == 3
                    assert (await watching_becomes(on_b[0], 3))[-1] == 3

                    proxy.cut()
                    assert (await watching_becomes(watcher, 1))[-1] == 1, "A counts its own viewer only"
                    part = await presence_part(base_a)
                    assert part["status"] == "degraded" and "redis unreachable" in part["detail"], part
                    assert "this replica's viewers only" in part["detail"]
                    assert (await watching_becomes(on_b[0], 2))[-1] == 2, "A's count expired from B's total"

                    proxy.restore()
                    assert (await watching_becomes(watcher, 3))[-1] == 3
                    assert (await watching_becomes(on_b[0], 3))[-1] == 3
                    assert (await presence_part(base_a))["status"] == "ok"
    finally:
        await proxy.stop()
