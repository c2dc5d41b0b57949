"""A replica that starts while the leader is publishing misses nothing: it hears the other
processes (Redis confirms the subscription) before it loads the boards, so every board version
published meanwhile reaches it, and it never has to reload or resnapshot its viewers. When Redis
is down as it starts, it loads anyway and reloads once, as soon as it is subscribed; a relay
restarted after a failure reloads once too.

The leader is a `goated serve` process syncing back to back (a board version every few
milliseconds); the follower runs in this process, where its relay can be read and restarted."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import httpx
from redis.asyncio import Redis

from server.leaderboard.board import Period
from server.services import Services, running_services
from server.settings import Settings
from tests.conftest import Sim, live_settings, running_sim
from tests.integration.test_outages import via_proxy
from tests.integration.test_races_api import AUTH, TOKEN
from tests.integration.test_replicas import leader_flag, replica, replica_env
from tests.tcp_proxy import TcpProxy


@dataclass
class Leader:
    prefix: str  # the deployment's Redis prefix
    base: str  # its HTTP address
    seq: int = 0  # the board version of its latest sync
    syncing: asyncio.Event = field(default_factory=asyncio.Event)  # cleared: no new sync starts
    in_sync: asyncio.Lock = field(default_factory=asyncio.Lock)  # held while a sync runs

    async def pause(self) -> None:
        """Stop syncing, once the sync under way (if any) has ended."""
        self.syncing.clear()
        async with self.in_sync:
            pass


@asynccontextmanager
async def syncing_leader(pg_url: str, redis_url: str, sim: Sim) -> AsyncIterator[Leader]:
    """A leader replica on PostgreSQL and Redis, asked to sync again as soon as each sync ends,
    for as long as the block runs."""
    env = replica_env(pg_url, redis_url, sim.base_url, sync_interval="3600", ADMIN_TOKEN=TOKEN, RATE_LIMIT_PER_MINUTE="1000000")
    async with replica(env) as (base, _), httpx.AsyncClient(base_url=base, headers=AUTH, timeout=30) as http:
        assert await leader_flag(base)
        leader = Leader(prefix=env["REDIS_PREFIX"], base=base)
        leader.syncing.set()

        async def sync_forever() -> None:
            while True:
                await leader.syncing.wait()
                async with leader.in_sync:
                    answer = await http.post("/api/admin/sync")
                    assert answer.status_code == 200 and answer.json()["status"] == "ok", answer.text
                    leader.seq = answer.json()["seq"]

        task = asyncio.create_task(sync_forever())
        try:
            await until_seq(lambda: leader.seq, 3)
            yield leader
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            assert task.cancelled(), f"every sync of the leader succeeded: {task.exception() if task.done() and not task.cancelled() else ''}"


async def until_seq(seq: Callable[[], int], target: int) -> int:
    """Wait until `seq()` reaches `target`; the seq then."""
    async with asyncio.timeout(30):
        while seq() < target:
            await asyncio.sleep(0.01)
    return seq()


async def hears(follower: Services, leader: Leader, versions: int) -> int:
    """Wait until `follower` is `versions` board versions past the leader's now."""
    return await until_seq(lambda: follower.live.seq, leader.seq + versions)


async def assert_same_boards(follower: Services, leader: Leader) -> None:
    """The follower's boards, row by row, are the leader's (pause the leader first)."""
    assert follower.live.seq == leader.seq
    async with httpx.AsyncClient(base_url=leader.base) as http:
        for period in Period:
            page = (await http.get(f"/api/leaderboard/{period.value}", params={"limit": 1000})).json()
            assert page["seq"] == leader.seq and page["total"] <= 1000
            theirs = [(r["rank"], r["uid"], r["name"], r["amount"]) for r in page["rows"]]
            ours = [(r.rank, r.uid, r.name, r.amount) for r in follower.live.board(period).rows]
            assert ours == theirs, f"{period.value}: the follower's board differs from the leader's"


def follower_settings(pg_url: str, redis_url: str, sim: Sim, leader: Leader) -> Settings:
    return live_settings(pg_url, sim, redis_url=redis_url, redis_prefix=leader.prefix)


async def test_a_replica_joining_mid_publish_hears_every_version_without_a_reload(pg_url: str, redis_url: str) -> None:
    async with running_sim(players=200, speed=3000) as sim, syncing_leader(pg_url, redis_url, sim) as leader:
        # Each join starts while versions are being published. Loading before subscribing lost
        # the versions published in between, and the follower reloaded from the database at the
        # next one (a "missed board versions" gap): here at least 1 join in 3.
        for join in range(6):
            async with running_services(follower_settings(pg_url, redis_url, sim, leader), schedule=False, lead=False) as follower:
                assert not follower.is_leader
                await hears(follower, leader, 5)
                assert follower.relay.resyncs == 0, f"join {join}: the follower reloaded after missing versions"
                assert follower.channels_health().info["resyncs"] == 0
                # It reached the leader's boards, not only its version: the players it loaded
                # were those of the version it loaded (one database snapshot, BoardStore.load_board).
                await leader.pause()
                await hears(follower, leader, 0)
                await assert_same_boards(follower, leader)
                leader.syncing.set()


async def test_a_replica_starting_without_redis_reloads_once_when_it_is_back(pg_url: str, redis_url: str) -> None:
    target = urlsplit(redis_url)
    proxy = await TcpProxy(target.hostname or "127.0.0.1", target.port or 6379).start()
    try:
        async with running_sim(players=200, speed=3000) as sim, syncing_leader(pg_url, redis_url, sim) as leader:
            proxy.cut()
            settings = follower_settings(pg_url, via_proxy(redis_url, proxy), sim, leader)
            async with running_services(settings, schedule=False, lead=False) as follower:
                loaded = follower.live.seq
                assert loaded > 0, "it loaded the boards from the database without waiting on Redis"
                await until_seq(lambda: leader.seq, loaded + 5)
                assert follower.live.seq == loaded, "no version reaches it while Redis is down"
                assert follower.channels_health().status == "degraded"
                proxy.restore()
                await until_seq(lambda: follower.relay.resyncs, 1)  # once subscribed again
                await hears(follower, leader, 3)
                assert follower.relay.resyncs == 1, "one reload, then every version in turn"
                assert follower.channels_health().info["resyncs"] == 1
    finally:
        await proxy.stop()


async def test_a_restarted_relay_reloads_what_was_published_while_it_was_down(pg_url: str, redis_url: str) -> None:
    async with running_sim(players=200, speed=3000) as sim, syncing_leader(pg_url, redis_url, sim) as leader:
        async with running_services(follower_settings(pg_url, redis_url, sim, leader), schedule=False, lead=False) as follower:
            await hears(follower, leader, 3)
            await follower.supervisor.stop("relay")  # as after a crash, before the supervisor's restart
            stopped_at = follower.live.seq
            await until_seq(lambda: leader.seq, stopped_at + 5)
            assert follower.live.seq == stopped_at, "nothing is heard while the relay is down"
            await leader.pause()
            follower.supervisor.start("relay", follower.relay.run)
            # No version is published now, so no gap can show: it reloads because it restarted.
            await until_seq(lambda: follower.live.seq, leader.seq)
            assert follower.relay.resyncs == 1
            leader.syncing.set()
            await hears(follower, leader, 3)
            assert follower.relay.resyncs == 1, "one reload, then every version in turn"


async def test_a_subscription_redis_py_restores_by_itself_still_reloads(pg_url: str, redis_url: str) -> None:
    """Redis drops the follower's pub/sub connection (here CLIENT KILL; in life a proxy or a
    failover). redis-py retries the failed read once: it reconnects and resubscribes without a
    word, so what was published in between is lost unseen. The backend notices the second
    confirmation of the same channel, counts a reconnection, and the relay reloads."""
    async with running_sim(players=200, speed=3000) as sim, syncing_leader(pg_url, redis_url, sim) as leader:
        async with running_services(follower_settings(pg_url, redis_url, sim, leader), schedule=False, lead=False) as follower:
            await hears(follower, leader, 3)
            backend = follower.channels._backend  # noqa: SLF001 - the plugin does not expose it
            before = backend.reconnects
            await leader.pause()
            await hears(follower, leader, 0)
            host, port = backend._pubsub.connection._writer.get_extra_info("sockname")[:2]  # noqa: SLF001
            admin = Redis.from_url(redis_url)
            try:
                ours = [c for c in await admin.client_list(_type="pubsub") if c["addr"] == f"{host}:{port}"]
                assert len(ours) == 1, "the follower's pub/sub connection is on the server"
                assert await admin.client_kill_filter(_id=ours[0]["id"]) == 1
            finally:
                await admin.aclose()
            await until_seq(lambda: follower.relay.resyncs, 1)
            assert backend.connected and backend.reconnects == before + 1
            assert backend._pubsub.connection._writer.get_extra_info("sockname")[1] != port  # noqa: SLF001 - a new connection
            leader.syncing.set()
            await hears(follower, leader, 3)
            assert follower.relay.resyncs == 1, "one reload, then every version in turn"


async def test_a_reload_never_takes_a_process_back_to_an_older_version(pg_url: str) -> None:
    """A reload that reads the database while this process's own sync commits (or while its
    writes are held in memory) sees an older version than the process holds. Taking it would
    make the next sync repeat a version every replica already has; the process keeps its own."""
    from server.db.tables import SyncRun

    async with running_sim(players=200, speed=3000) as sim:
        async with running_services(live_settings(pg_url, sim), schedule=False) as services:
            for _ in range(3):
                assert (await services.sync.run_once("test")).status == "ok"
            assert services.live.seq == 3
            # The database one version behind what the process holds, as the reload would read it
            # mid-commit (the run of version 3 not yet visible).
            await SyncRun.update({SyncRun.status: "running"}).where(SyncRun.seq == 3).run()
            await services.resync()
            assert services.live.seq == 3 and services.sync.players, "it kept the version it holds"
            assert (await services.sync.run_once("test")).seq == 4, "the next sync moves on, not back to 3"
            await SyncRun.update({SyncRun.status: "ok"}).where(SyncRun.seq == 3).run()
            await services.resync()  # the database level with the process again: a reload takes it
            assert services.live.seq == 4
