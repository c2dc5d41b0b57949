"""Processes and the bot: of several able to run it, one holds the lease and runs the
client while the others stand by; a bot process without Redis follows the database."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from pyrogram.errors import AccessTokenInvalid

from server.leaderboard.board import Period
from server.supervisor import cancel_and_wait
from server.services import running_services, utc_now
from server.telegram.bot import BotRunner
from server.telegram.lease import Lease
from server.telegram.outbox import Outgoing
from server.telegram.runtime import bot_deps, follow_database
from tests.conftest import live_settings, running_sim
from tests.integration.test_telegram_mirror import until
from tests.telegram_fake import TEST_TELEGRAM, FakeTelegram

T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


async def test_the_lease_goes_to_one_holder_until_released_or_expired(pg_url: str) -> None:
    async with running_sim(players=5) as sim:
        async with running_services(live_settings(pg_url, sim), schedule=False):
            a, b = Lease("a", ttl=timedelta(seconds=30)), Lease("b", ttl=timedelta(seconds=30))
            results = await asyncio.gather(a.acquire(T0), b.acquire(T0))
            assert sorted(results) == [False, True]
            holder, other = (a, b) if results[0] else (b, a)
            assert await holder.acquire(T0 + timedelta(seconds=10))  # renewed
            assert not await other.acquire(T0 + timedelta(seconds=39))
            assert await other.acquire(T0 + timedelta(seconds=41))  # the holder stopped renewing
            assert not await holder.acquire(T0 + timedelta(seconds=42))
            await other.release()
            assert await holder.acquire(T0 + timedelta(seconds=43))


async def test_two_bot_processes_one_runs_the_other_takes_over(pg_url: str) -> None:
    fakes = [FakeTelegram(), FakeTelegram()]
    async with running_sim(players=5) as sim:
        settings = live_settings(pg_url, sim, **TEST_TELEGRAM, telegram_channel="@goatedlive_test")  # type: ignore[arg-type]
        async with running_services(settings, schedule=False, bot=False) as services:
            telegram = services.telegram
            runners = [
                BotRunner(bot_deps(services, telegram, utc_now), Lease(f"process-{i}"), fakes[i].factory(), utc_now, renew=0.05)
                for i in range(2)
            ]
            tasks = [asyncio.create_task(r.run()) for r in runners]
            try:
                await until(lambda: sorted(r.state for r in runners) == ["running", "standby"])
                first = next(i for i, r in enumerate(runners) if r.state == "running")
                second = 1 - first
                assert runners[first].username == "goated_test_bot"
                await telegram.outbox.add([Outgoing("channel", "digest", "one")], utc_now())
                runners[first].wake()
                await until(lambda: fakes[first].sent)
                await asyncio.sleep(0.3)
                assert [s.text for s in fakes[first].sent] == ["one"] and fakes[second].sent == []

                await cancel_and_wait(tasks[first])  # that process stops (and gives the lease back)
                await until(lambda: runners[second].state == "running")
                await telegram.outbox.add([Outgoing("channel", "digest", "two")], utc_now())
                runners[second].wake()
                await until(lambda: fakes[second].sent)
                assert [s.text for s in fakes[second].sent] == ["two"] and len(fakes[first].sent) == 1
            finally:
                for task in tasks:
                    await cancel_and_wait(task)


async def test_a_bot_process_without_redis_follows_the_database(sqlite_url: str) -> None:
    """`goated bot` next to a server with no Redis between them: no events reach it, so it
    reloads the boards from the database when a newer sync is stored."""
    async with running_sim(players=30) as sim:
        for e in sim.simulation.snapshot()[:5]:
            sim.simulation.wager(e.uid, 100)
        settings = live_settings(sqlite_url, sim)
        async with running_services(settings, schedule=False) as server:
            async with running_services(settings, schedule=False, lead=False, bot=False) as bot_process:
                follower = asyncio.create_task(follow_database(bot_process, every=0.05))
                try:
                    assert (await server.sync.run_once("test")).status == "ok"
                    await until(lambda: bot_process.live.seq == server.live.seq)
                    assert bot_process.live.board(Period.ALL_TIME).rows == server.live.board(Period.ALL_TIME).rows
                finally:
                    await cancel_and_wait(follower)


async def test_a_bot_that_cannot_log_in_says_so_and_keeps_trying(pg_url: str) -> None:
    fake = FakeTelegram()
    attempts: list[int] = []

    def factory(settings):  # noqa: ANN001, ANN202 - Settings -> Client
        client = fake.client(settings)
        real_start = client.start

        async def start():  # noqa: ANN202
            attempts.append(1)
            if len(attempts) == 1:
                raise AccessTokenInvalid()  # what Telegram answers a revoked bot token
            return await real_start()

        client.start = start  # type: ignore[method-assign]
        return client

    async with running_sim(players=5) as sim:
        settings = live_settings(pg_url, sim, **TEST_TELEGRAM)  # type: ignore[arg-type]
        async with running_services(settings, schedule=False, bot=False) as services:
            telegram = services.telegram
            runner = BotRunner(bot_deps(services, telegram, utc_now), Lease("p"), factory, utc_now, renew=0.05, jitter=lambda: 0.0)
            telegram.runner = runner
            task = asyncio.create_task(runner.run())
            try:
                await until(lambda: runner.state == "error")
                part = await telegram.health(utc_now())
                assert part.status == "degraded" and "ACCESS_TOKEN_INVALID" in part.detail
                await until(lambda: runner.state == "running", timeout=5)  # retried after its backoff
                assert len(attempts) == 2 and (await telegram.health(utc_now())).status == "ok"
            finally:
                await cancel_and_wait(task)
