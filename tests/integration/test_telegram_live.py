"""The live message (TELEGRAM_LIVE_MESSAGE): one pinned channel message edited after each sync.
Real syncs of the simulated upstream, a real database, Telegram faked at the MTProto session
(tests/telegram_fake.py: it refuses an edit that changes nothing with MESSAGE_NOT_MODIFIED and
one of a deleted message with MESSAGE_ID_INVALID, as Telegram does)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta

import pytest
from pyrogram import raw
from pyrogram.errors import FloodWait, MessageNotModified

from server.errors import ConfigError
from server.leaderboard.board import Period
from server.leaderboard.messages import BoardsSynced
from server.races.model import RaceKind
from server.services import Services, running_services
from server.settings import Settings
from server.supervisor import cancel_and_wait
from server.telegram.bot import BotRunner
from server.telegram.lease import Lease
from server.telegram.livetext import text_hash
from server.telegram.pinned import EDIT_GAP, PIN_CHECK, LiveMessage, LiveView, load_state
from server.telegram.runtime import bot_deps
from tests.conftest import SIM_START, Sim, running_sim
from tests.integration.race_support import Clock, aligned
from tests.integration.test_telegram_mirror import telegram_settings, until
from tests.integration.test_telegram_outbox import instant_throttle
from tests.telegram_fake import ChannelState, FakeTelegram

CHANNEL = "@goatedlive_test"


@dataclass
class Live:
    services: Services
    sim: Sim
    fake: FakeTelegram
    clock: Clock
    keeper: LiveMessage
    settings: Settings

    async def sync(self) -> None:
        assert (await self.services.sync.run_once("test")).status == "ok"

    async def climb(self, place: int, to: int = 1, period: Period = Period.ALL_TIME) -> str:
        """The player at `place` on the board wagers past the one at `to`, and a sync runs."""
        board = self.services.live.board(period)
        uid = board.rows[place - 1].uid
        self.sim.simulation.wager(uid, board.rows[to - 1].amount - board.rows[place - 1].amount + 100)
        await self.sync()
        return uid

    def text(self) -> str:
        return self.fake.live_text(self.keeper.message_id)  # type: ignore[arg-type]

    def telegram_calls(self, kind: type) -> int:
        return sum(isinstance(c, kind) for c in self.fake.calls)


def live_settings_for(database_url: str, sim: Sim, **overrides: object) -> Settings:
    values = {"telegram_live_message": True, "telegram_periods": (), "telegram_live_board": "all_time", "telegram_live_top": 5}
    return telegram_settings(database_url, sim, **{**values, **overrides})


@asynccontextmanager
async def live(database_url: str, fake: FakeTelegram | None = None, sim: Sim | None = None, **overrides: object) -> AsyncIterator[Live]:
    """Services on a clock the test moves (no schedule, the bot not started) and the live
    message's keeper on a client connected to the fake, stepped by the test."""
    fake = fake or FakeTelegram()
    async with _sim(sim) as sim:
        settings = live_settings_for(database_url, sim, **overrides)
        clock = Clock(aligned(SIM_START))
        async with running_services(settings, clock=clock, schedule=False, bot=False) as services:
            client = fake.client(settings)
            await fake.connect(client)
            view = LiveView(services.live, services.races, settings.telegram_live_board, settings.telegram_live_top)
            keeper = LiveMessage(client, CHANNEL, view, instant_throttle(), clock, settle=0)
            try:
                yield Live(services, sim, fake, clock, keeper, settings)
            finally:
                await client.storage.close()


@asynccontextmanager
async def _sim(sim: Sim | None) -> AsyncIterator[Sim]:
    if sim is not None:
        yield sim
        return
    async with running_sim(players=40) as new:
        for i, e in enumerate(new.simulation.snapshot()[:10]):
            new.simulation.wager(e.uid, 1000.0 * (10 - i))  # ranks 1..10, $1,000 apart
        yield new


async def test_the_first_sync_posts_and_pins_it(database_url: str) -> None:
    async with live(database_url) as t:
        assert await t.keeper.step() == "unchanged" and t.fake.sent == []  # nothing synced yet: nothing to show
        await t.sync()
        assert await t.keeper.step() == "posted"
        [post] = t.fake.sent
        assert post.peer == "channel" and t.fake.pinned == t.keeper.message_id == t.fake.pins[0]
        [pin] = [c for c in t.fake.calls if isinstance(c, raw.functions.messages.UpdatePinnedMessage)]
        assert pin.silent  # pinned without a notification
        top = t.services.live.board(Period.ALL_TIME).rows
        assert post.text.startswith("🏆 All time — top 5\n🥇 ") and f"🥇 {top[0].name} — $10,000.00" in post.text
        assert post.text.count("\n") == 6 and post.text.endswith(f"updated {SIM_START:%H:%M} UTC")
        state = await load_state(CHANNEL)
        assert state.message_id == post_id(t) and state.chat_id == -1_001_987_654_321 and state.text_hash


def post_id(t: Live) -> int:
    return t.keeper.message_id  # type: ignore[return-value]


async def test_a_sync_that_changes_the_top_edits_it_and_one_that_does_not_is_skipped(database_url: str) -> None:
    async with live(database_url) as t:
        await t.sync()
        await t.keeper.step()
        first = post_id(t)
        t.clock.advance(60)
        uid = await t.climb(4)
        assert await t.keeper.step() == "edited"
        assert [e.message_id for e in t.fake.edits] == [first] and len(t.fake.sent) == 1
        assert t.text().split("\n")[1].startswith(f"🥇 {t.services.live.board(Period.ALL_TIME).rows[0].name}")
        assert t.services.live.board(Period.ALL_TIME).rows[0].uid == uid

        # A sync that changed nothing (in the same minute): the same text, no call to Telegram.
        t.clock.advance(10)
        await t.sync()
        before = len(t.fake.calls)
        assert await t.keeper.step() == "unchanged"
        assert len(t.fake.edits) == 1 and len(t.fake.calls) == before
        assert t.keeper.skipped == 1


async def test_message_not_modified_is_done_not_an_error(database_url: str) -> None:
    async with live(database_url) as t:
        await t.sync()
        await t.keeper.step()
        t.clock.advance(60)
        await t.climb(3)
        t.fake.edit_errors.append(MessageNotModified())  # Telegram says it already shows this text
        assert await t.keeper.step() == "unchanged"
        assert t.keeper.last_error is None and len(t.fake.sent) == 1 and t.fake.edits == []
        calls = len(t.fake.calls)
        assert await t.keeper.step() == "unchanged" and len(t.fake.calls) == calls  # remembered: not tried again
        assert (await t.services.telegram.health(t.clock())).status == "ok"


async def test_a_deleted_message_is_posted_again_and_pinned(database_url: str) -> None:
    async with live(database_url) as t:
        await t.sync()
        await t.keeper.step()
        old = post_id(t)
        t.fake.delete(old)  # an admin deleted it
        t.clock.advance(60)
        await t.climb(5)
        assert await t.keeper.step() == "posted"
        new = post_id(t)
        assert new != old and len(t.fake.sent) == 2 and t.fake.pinned == new
        assert (await load_state(CHANNEL)).message_id == new
        t.clock.advance(60)
        await t.climb(4)
        assert await t.keeper.step() == "edited" and t.fake.edits[-1].message_id == new


async def test_a_message_unpinned_by_a_person_is_pinned_again(database_url: str) -> None:
    async with live(database_url) as t:
        await t.sync()
        await t.keeper.step()
        mine = post_id(t)
        t.fake.pinned = None  # a person unpinned it
        t.clock.advance(PIN_CHECK.total_seconds())
        assert await t.keeper.step() == "repinned"
        assert t.fake.pinned == mine and t.fake.pins == [mine, mine] and len(t.fake.sent) == 1

        t.fake.pinned = t.fake.post_by_person("📣 giveaway tonight")  # someone pinned another message
        t.clock.advance(30)
        assert await t.keeper.step() == "unchanged"  # looked at every PIN_CHECK, not every step
        t.clock.advance(PIN_CHECK.total_seconds())
        assert await t.keeper.step() == "repinned" and t.fake.pinned == mine

        t.fake.delete(mine)  # deleted (and so unpinned): found at the next look, posted anew
        t.clock.advance(PIN_CHECK.total_seconds())
        assert await t.keeper.step() == "posted"
        assert t.fake.pinned == post_id(t) != mine


async def test_a_floodwait_is_waited_out_then_the_edit_goes(database_url: str) -> None:
    async with live(database_url) as t:
        await t.sync()
        await t.keeper.step()
        t.clock.advance(60)
        await t.climb(2)
        t.fake.edit_errors.append(FloodWait(value=5))
        assert await t.keeper.step() == "flood"
        assert t.keeper._delay("flood") == 5.0  # the loop sleeps the wait, once: no busy loop
        state = await load_state(CHANNEL)
        assert state.not_before == t.clock() + timedelta(seconds=5)
        assert (await t.services.telegram.health(t.clock())).status == "ok"  # the bot does not run here

        t.clock.advance(3)
        calls = len(t.fake.calls)
        assert await t.keeper.step() == "waiting" and len(t.fake.calls) == calls  # nothing sent to the chat meanwhile
        assert t.keeper._delay("waiting") == 2.0
        t.clock.advance(2)
        assert await t.keeper.step() == "edited" and len(t.fake.edits) == 1
        assert t.keeper.last_error is None


async def test_a_burst_of_syncs_makes_at_most_20_edits_a_minute(database_url: str) -> None:
    """A sync every second for 90 seconds, each changing the top: edits at least 3 s apart
    (20 a minute), each with the newest text."""
    async with live(database_url) as t:
        await t.sync()
        await t.keeper.step()
        edited_at = []
        for i in range(90):
            t.clock.advance(1)
            await t.climb(2 + i % 3)
            if await t.keeper.step() == "edited":
                edited_at.append(t.clock())
        windows = [sum(1 for e in edited_at if start <= e < start + timedelta(minutes=1)) for start in edited_at]
        assert max(windows) <= 20 and len(edited_at) >= 28
        assert all(b - a >= EDIT_GAP for a, b in zip(edited_at, edited_at[1:]))
        t.clock.advance(3)
        await t.keeper.step()
        newest = t.keeper._render(t.clock())
        assert (await load_state(CHANNEL)).text_hash == text_hash(newest)  # the last sync's board is what it shows


async def test_a_restart_edits_the_same_message(database_url: str) -> None:
    fake = FakeTelegram()
    async with _sim(None) as sim:
        async with live(database_url, fake, sim) as t:
            await t.sync()
            await t.keeper.step()
            first = post_id(t)
        async with live(database_url, fake, sim) as t:  # a new process, the same database
            await t.sync()
            t.clock.advance(60)
            await t.climb(6)
            assert await t.keeper.step() == "edited"
            assert post_id(t) == first and len(fake.sent) == 1 and [e.message_id for e in fake.edits] == [first]


async def test_the_race_board_counts_down_and_shows_prizes(database_url: str) -> None:
    async with live(database_url, telegram_live_board="race") as t:
        await t.sync()
        await t.keeper.step()
        assert t.text().startswith("🏆 This month — top 5")  # no race: the monthly board
        races = t.services.races
        now = t.clock()
        await races.create(
            title="<b>Dash</b>", kind=RaceKind.CUSTOM, starts_at=now + timedelta(hours=1),
            ends_at=now + timedelta(days=2, hours=5, minutes=30), pool_cents=50_000, split=[60, 40],
        )
        t.clock.advance(60)
        assert await t.keeper.step() == "edited"
        assert "🗓 <b>Dash</b> starts in 59m" in t.text()  # the name's tags arrive as text
        t.clock.set(now + timedelta(hours=1))
        await races.lifecycle.step()
        await races.lifecycle.drain()
        await t.sync()  # the race's baseline
        await t.climb(3)
        assert await t.keeper.step() == "edited"
        lines = t.text().split("\n")
        assert lines[:2] == ["🏁 <b>Dash</b> · live", "⏳ ends in 2d 4h · prize pool $500"]
        assert lines[2].startswith("🥇 ") and lines[2].endswith(" · $300")
        assert lines[-1] == f"updated {t.clock():%H:%M} UTC"
        t.clock.advance(20)
        assert await t.keeper.step() == "unchanged"  # the countdown reads the same within its minute
        t.clock.advance(3600)
        assert await t.keeper.step() == "edited" and "ends in 2d 3h" in t.text()


async def test_the_bot_keeps_it_after_each_sync_and_only_one_of_two_processes_does(pg_url: str) -> None:
    """Through the running bot: the holder of the lease posts after the first sync and edits
    after the next; the process standing by never touches the channel until it takes over,
    and then edits the same message."""
    shared = ChannelState()
    fakes = [FakeTelegram(channel=shared), FakeTelegram(channel=shared)]
    async with _sim(None) as sim:
        settings = live_settings_for(pg_url, sim)
        async with running_services(settings, schedule=False, bot=False) as services:
            telegram = services.telegram
            runners = [
                BotRunner(bot_deps(services, telegram, services.clock, throttle=instant_throttle()), Lease(f"process-{i}"), fakes[i].factory(), services.clock, renew=0.05)
                for i in range(2)
            ]
            telegram.runner = None
            tasks = [asyncio.create_task(r.run()) for r in runners]
            for r in runners:
                services.relay.on(BoardsSynced, r.wake)
            try:
                await until(lambda: sorted(r.state for r in runners) == ["running", "standby"])
                first = next(i for i, r in enumerate(runners) if r.state == "running")
                second = 1 - first
                assert (await services.sync.run_once("test")).status == "ok"
                await until(lambda: fakes[first].pins)  # posted, then pinned
                [message] = fakes[first].sent
                assert shared.pinned == fakes[first].pins[0]
                board = services.live.board(Period.ALL_TIME)
                sim.simulation.wager(board.rows[3].uid, board.rows[0].amount)
                await until(lambda: runners[first].live is not None and runners[first].live.edits == 0)
                await asyncio.sleep(EDIT_GAP.total_seconds())  # edits at least 3 s apart
                assert (await services.sync.run_once("test")).status == "ok"
                await until(lambda: runners[first].live is not None and runners[first].live.edits == 1, timeout=15)
                assert len(fakes[first].edits) == 1
                telegram.runner = runners[first]
                part = await telegram.health(services.clock())
                assert part.info["live_message"]["edits"] == 1 and part.info["live_message"]["message_id"] == shared.pinned
                assert fakes[second].calls == []  # standing by: not a single call to Telegram
                assert message.text.startswith("🏆 All time")

                await cancel_and_wait(tasks[first])  # that process stops and hands the lease over
                await until(lambda: runners[second].state == "running")
                sim.simulation.wager(board.rows[5].uid, board.rows[0].amount * 2)
                assert (await services.sync.run_once("test")).status == "ok"
                await until(lambda: fakes[second].edits, timeout=15)
                assert fakes[second].sent == [] and fakes[second].edits[0].message_id == shared.pinned
            finally:
                for task in tasks:
                    await cancel_and_wait(task)



def test_its_settings_default_off_and_need_the_channel() -> None:
    credentials = {
        "TELEGRAM_API_ID": "12345",
        "TELEGRAM_API_HASH": "0123456789abcdef0123456789abcdef",
        "TELEGRAM_BOT_TOKEN": "123456:ABC-DEF1234ghIkl-zyx57W2v1u123ew11",
        "TELEGRAM_CHANNEL": "goatedlive",
    }
    default = Settings.from_env(credentials)
    assert (default.telegram_live_message, default.telegram_live_top, default.telegram_live_board) == (False, 10, "race")
    s = Settings.from_env(
        {**credentials, "TELEGRAM_LIVE_MESSAGE": "on", "TELEGRAM_LIVE_TOP": "15", "TELEGRAM_LIVE_BOARD": "Weekly", "TELEGRAM_PERIODS": "none"}
    )
    assert (s.telegram_live_message, s.telegram_live_top, s.telegram_live_board, s.telegram_periods) == (True, 15, "weekly", ())
    with pytest.raises(ConfigError, match="TELEGRAM_LIVE_MESSAGE=on needs TELEGRAM_CHANNEL"):
        Settings.from_env({**credentials, "TELEGRAM_CHANNEL": "", "TELEGRAM_LIVE_MESSAGE": "on"})
    for var, value in (("TELEGRAM_LIVE_BOARD", "yearly"), ("TELEGRAM_LIVE_TOP", "51"), ("TELEGRAM_LIVE_MESSAGE", "sometimes")):
        with pytest.raises(ConfigError, match=var):
            Settings.from_env({**credentials, var: value})
