"""The channel mirror end to end: simulated upstream -> sync -> outbox (in the sync's
transaction, real PostgreSQL) -> the bot's sender -> Telegram (faked at the raw API call)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import httpx

from server.leaderboard.board import Period
from server.races.model import RaceKind
from server.services import running_services
from server.telegram.tables import OutboxRow
from server.supervisor import cancel_and_wait
from tests.conftest import SIM_START, live_settings, running_sim
from tests.integration.race_support import Clock, aligned, wager
from tests.telegram_fake import TEST_TELEGRAM, FakeTelegram

HOSTILE = '<b>evil</b>&"'


async def until(check: Callable[[], object], timeout: float = 10.0) -> None:
    async with asyncio.timeout(timeout):
        while not check():
            await asyncio.sleep(0.05)


def telegram_settings(database_url: str, sim: object, **overrides: object):
    values = {**TEST_TELEGRAM, "telegram_channel": "@goatedlive_test", "telegram_admin_ids": (111,), **overrides}
    return live_settings(database_url, sim, **values)  # type: ignore[arg-type]


async def test_a_sync_posts_one_digest_per_changed_board_with_names_escaped(pg_url: str) -> None:
    fake = FakeTelegram()
    async with running_sim(players=60) as sim:
        settings = telegram_settings(pg_url, sim, telegram_periods=("today", "all_time"))
        for i, e in enumerate(sim.simulation.snapshot()[:8]):
            sim.simulation.wager(e.uid, 100.0 * (i + 1))
        async with running_services(settings, schedule=False, bot=True, telegram_client=fake.factory()) as services:
            assert (await services.sync.run_once("test")).status == "ok"
            assert await OutboxRow.count().run() == 0  # the first sync has nothing to compare with

            fifth = services.live.board(Period.ALL_TIME).rows[4]
            leader = services.live.board(Period.ALL_TIME).rows[0]
            sim.simulation.rename(fifth.uid, HOSTILE)
            sim.simulation.wager(fifth.uid, leader.amount + 1000)
            result = await services.sync.run_once("test")
            assert result.status == "ok"

            rows = await OutboxRow.select().order_by(OutboxRow.id).run()
            assert [(r["kind"], r["chat"], r["dedupe_key"]) for r in rows] == [
                ("digest", "channel", f"digest:{result.seq}:today"),
                ("digest", "channel", f"digest:{result.seq}:all_time"),
            ]
            assert "&lt;b&gt;evil&lt;/b&gt;&amp;&quot;" in rows[0]["text"]

            await until(lambda: len(fake.sent) == 2)
            today, all_time = fake.sent
            assert today.peer == all_time.peer == "channel"
            assert today.text.startswith("📊 Today") and HOSTILE in today.text
            # Escaped: the tags arrive as text, and the bold run is the whole literal name.
            assert f"{HOSTILE} #5 → #1" in all_time.text
            assert HOSTILE in all_time.bold() and "evil" not in all_time.bold()
            await until_async(_no_backlog)  # and each row marked sent, with Telegram's message id
            assert all(r["telegram_message_id"] for r in await OutboxRow.select(OutboxRow.telegram_message_id).run())


async def _no_backlog() -> bool:
    return await OutboxRow.count().where(OutboxRow.sent_at.is_null()).run() == 0


async def until_async(check: Callable[[], object], timeout: float = 10.0) -> None:
    """`until` for a check that queries the database."""
    async with asyncio.timeout(timeout):
        while not await check():  # type: ignore[misc]
            await asyncio.sleep(0.05)


async def test_race_posts_reach_the_channel_once_each(pg_url: str) -> None:
    """Started, 1 hour left, 10 minutes left, ended with winners and prizes: each once,
    however often the announcer looks, with the race's and players' names escaped."""
    fake = FakeTelegram()
    async with running_sim(speed=0) as sim:
        clock = Clock(aligned(SIM_START))
        t0 = clock.now
        settings = telegram_settings(pg_url, sim, telegram_periods=())  # race posts only
        async with running_services(settings, clock=clock, schedule=False, bot=True, telegram_client=fake.factory()) as services:
            await services.supervisor.stop("race_lifecycle")
            races, lifecycle = services.races, services.races.lifecycle
            announcer = services.telegram.announcer
            race = await races.create(
                title=f"{HOSTILE} Sprint", kind=RaceKind.CUSTOM, starts_at=t0 + timedelta(seconds=10),
                ends_at=t0 + timedelta(hours=3), pool_cents=100_000, split=[60, 40],
            )
            assert (await services.sync.run_once("test")).status == "ok"
            clock.advance(10)
            await lifecycle.step()
            await lifecycle.drain()
            await until(lambda: len(fake.sent) == 1)
            started = fake.sent[0]
            assert started.peer == "channel" and f"{HOSTILE} Sprint is live!" in started.text
            assert "Prize pool $1,000" in started.text and "🥇 $600" in started.text

            a, b = [e.uid for e in sim.simulation.snapshot()][:2]
            sim.simulation.rename(a, HOSTILE)
            await wager(sim, a, 500)
            await wager(sim, b, 200)
            assert (await services.sync.run_once("test")).status == "ok"

            clock.set(t0 + timedelta(hours=2, minutes=1))
            await announcer.step()
            # "1 hour left" is true only until the 10-minute mark: it goes out before then.
            await until(lambda: len(fake.sent) == 2)
            clock.set(t0 + timedelta(hours=2, minutes=51))
            await announcer.step()
            await announcer.step()  # nothing new: the same keys
            await until(lambda: len(fake.sent) == 3)
            hour, ten = fake.sent[1], fake.sent[2]
            assert "1 hour left" in hour.text and "10 minutes left" in ten.text
            assert f"🥇 {HOSTILE} — $500.00 · $600" in ten.text

            clock.set(t0 + timedelta(hours=3))
            await lifecycle.step()
            await lifecycle.drain()
            await until(lambda: len(fake.sent) == 4)
            ended = fake.sent[3]
            assert f"{HOSTILE} Sprint has ended!" in ended.text
            assert f"🥇 {HOSTILE} — $500.00 wagered — wins $600" in ended.text
            assert "🥈" in ended.text and "wins $400" in ended.text

            await announcer.step()
            await asyncio.sleep(0.3)
            kinds = [r["kind"] for r in await OutboxRow.select(OutboxRow.kind).order_by(OutboxRow.id).run()]
            assert kinds == ["race_started", "race_1h", "race_10m", "race_ended"]
            assert len(fake.sent) == 4
            assert race.id


async def test_alerts_dm_linked_users_whose_place_changed(pg_url: str) -> None:
    """A linked user with alerts on hears that they were passed (and slid down); one with
    alerts off hears nothing; the DM goes out through the bot."""
    fake = FakeTelegram()
    async with running_sim(players=40) as sim:
        players = sim.simulation.snapshot()[:6]
        for i, e in enumerate(players):
            sim.simulation.wager(e.uid, 1000.0 * (6 - i))  # ranks 1..6 on every board
        settings = telegram_settings(pg_url, sim, telegram_channel=None, telegram_periods=("all_time",))
        async with running_services(settings, schedule=False, bot=True, telegram_client=fake.factory()) as services:
            assert (await services.sync.run_once("test")).status == "ok"
            telegram = services.telegram
            now = datetime.now(UTC)
            third, fifth, fourth = players[2], players[4], players[3]
            for telegram_id, player, alerts in ((555, third, True), (556, fourth, False)):
                await telegram.accounts.seen(telegram_id, f"user {telegram_id}", None, now)
                request = await telegram.links.request(telegram_id, f"user {telegram_id}", player.uid, player.name, now)
                await telegram.links.approve(request.id, "test", now)
                await telegram.accounts.set_alerts(telegram_id, alerts, now)
            sim.simulation.rename(fifth.uid, HOSTILE)
            sim.simulation.wager(fifth.uid, 3500)  # 1000 + 3500: passes #3 and #4, now #2
            assert (await services.sync.run_once("test")).status == "ok"

            rows = await OutboxRow.select().order_by(OutboxRow.id).run()
            assert [(r["kind"], r["chat"]) for r in rows] == [("alert", "555")]  # no channel: no digest
            await until(lambda: fake.sent)
            [dm] = fake.sent
            assert dm.peer == 555
            assert dm.text == f"🔔 {third.name}\n📉 All time: down to #4 (was #3) — passed by {HOSTILE}"


async def test_a_refused_upstream_token_dms_each_admin_once(pg_url: str) -> None:
    fake = FakeTelegram()
    async with running_sim(players=20) as sim:
        settings = telegram_settings(pg_url, sim, telegram_admin_ids=(111, 222))
        async with running_services(settings, schedule=False, bot=True, telegram_client=fake.factory()) as services:
            async with httpx.AsyncClient() as http:
                r = await http.post(f"{sim.base_url}/_sim/faults", json={"mode": "unauthorized"})
                assert r.status_code < 300, r.text
            assert (await services.sync.run_once("test")).status == "failed"
            announcer = services.telegram.announcer
            await announcer.step()
            await services.sync.run_once("test")  # refused again: the same token, no new DM
            await announcer.step()
            await until(lambda: len(fake.sent) == 2)
            await asyncio.sleep(0.2)
            assert sorted(s.peer for s in fake.sent) == [111, 222]
            assert all("refused the token" in s.text for s in fake.sent)
            assert await OutboxRow.count().run() == 2
