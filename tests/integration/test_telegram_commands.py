"""Bot commands: real kurigram Client and Message objects, the handlers registered by
`register()`, replies going out through the client to Telegram faked at the raw API call,
data from the real services (simulated upstream, real database)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta

import pytest
from pyrogram import Client, raw

from server.leaderboard.board import Period
from server.races.model import RaceKind
from server.services import Services, running_services
from server.telegram.commands import UNKNOWN, BotDeps, register
from server.telegram.commands.context import ADMIN_ONLY, BROKEN, TOO_FAST
from server.telegram.runtime import bot_deps
from server.telegram.tables import OutboxRow
from server.settings import Settings
from tests.conftest import SIM_START, Sim, live_settings, running_sim
from tests.integration.race_support import Clock, aligned
from tests.integration.test_telegram_outbox import instant_throttle
from tests.telegram_fake import BOT_USERNAME, TEST_TELEGRAM, FakeTelegram, group_message, private_message, wire

ADMIN, USER, OTHER = 111, 555, 556
HOSTILE = '<b>evil</b>&"'


@dataclass
class Bot:
    services: Services
    deps: BotDeps
    client: Client
    fake: FakeTelegram
    clock: Clock
    sim: object
    top_uid: str
    elapsed: float = 0.0  # what the per-user rate limit sees as time
    pace: float = 5.0  # seconds between a user's commands (slow enough for the limit)

    async def say(self, text: str, user: int = USER, *, group: bool = False) -> str | None:
        """Deliver a message as pyrogram's dispatcher does (first matching handler of the
        group); the bot's reply as Telegram shows it, or None."""
        self.elapsed += self.pace
        message = group_message(self.client, user, text) if group else private_message(self.client, user, text)
        before = len(self.fake.sent)
        for handlers in self.client.dispatcher.groups.values():
            for handler in handlers:
                if await handler.check(self.client, message):
                    await handler.callback(self.client, message)
                    break
        if len(self.fake.sent) == before:
            return None
        reply = self.fake.sent[-1]
        assert reply.peer == message.chat.id  # answered in the chat it was asked in
        return reply.text


@pytest.fixture
async def bot(sqlite_url: str) -> AsyncIterator[Bot]:
    fake = FakeTelegram()
    clock = Clock(aligned(SIM_START))
    async with running_sim(players=80) as sim:
        snapshot = sim.simulation.snapshot()
        for i, e in enumerate(snapshot[:12]):
            sim.simulation.wager(e.uid, 1000.0 * (12 - i))
        sim.simulation.rename(snapshot[0].uid, HOSTILE)
        sim.simulation.rename(snapshot[1].uid, "Alice Wonder")
        settings = live_settings(sqlite_url, sim, **TEST_TELEGRAM, telegram_admin_ids=(ADMIN,))  # type: ignore[arg-type]
        async with bot_on(settings, sim, clock, fake, snapshot[0].uid) as bot:
            yield bot


@asynccontextmanager
async def bot_on(settings: Settings, sim: Sim, clock: Clock, fake: FakeTelegram, uid: str) -> AsyncIterator[Bot]:
    """The bot's command handlers on `settings`' services after one sync, talking to `fake`;
    `uid` is the player the tests' user plays."""
    async with running_services(settings, clock=clock, schedule=False, bot=False) as services:
        assert (await services.sync.run_once("test")).status == "ok"
        client = fake.client(settings)
        await fake.connect(client)
        deps = bot_deps(services, services.telegram, clock, throttle=instant_throttle())
        register(client, deps)
        await asyncio.sleep(0)  # pyrogram adds handlers in a task
        bot = Bot(services, deps, client, fake, clock, sim, uid)
        deps.monotonic = lambda: bot.elapsed
        yield bot
        await client.storage.close()


async def test_start_and_help_list_the_commands_admins_see_theirs(bot: Bot) -> None:
    start = await bot.say("/start")
    assert start is not None and start.startswith("👋 Hi Ann!") and "/rank <name>" in start
    assert "/approve" not in start
    assert "/approve <id>" in (await bot.say("/help", ADMIN) or "")


async def test_top_escapes_names_and_knows_its_periods(bot: Bot) -> None:
    top = await bot.say("/top all")
    assert top is not None and top.startswith("🏆 All time — top 10 of")
    assert f"🥇 {HOSTILE} — $12,000.00" in top
    reply = bot.fake.sent[-1]
    assert "evil" not in reply.bold()  # the name's tags arrived as text, not as formatting
    assert (await bot.say("/top")) is not None
    assert "I don't know the period 'yearly'" in (await bot.say("/top yearly") or "")


async def test_rank_finds_players_by_name_and_suggests_close_ones(bot: Bot) -> None:
    rank = await bot.say("/rank alice wonder")
    assert rank is not None and rank.startswith("👤 Alice Wonder")
    assert "All time: #2 of" in rank and "$1,000.00 behind #1" in rank
    assert "Did you mean: Alice Wonder?" in (await bot.say("/rank Alise Wonder") or "")
    assert (await bot.say("/rank zzzzzzzz")) == "No player called zzzzzzzz on the boards."
    assert "Usage: /rank <name>" in (await bot.say("/rank") or "")


async def renamed(bot: Bot, names: dict[int, str]) -> dict[str, str]:
    """Rename the players at these places of the simulator's list and sync: name -> uid."""
    snapshot = bot.sim.simulation.snapshot()  # type: ignore[attr-defined]
    uids = {name: snapshot[i].uid for i, name in names.items()}
    for name, uid in uids.items():
        bot.sim.simulation.rename(uid, name)  # type: ignore[attr-defined]
    assert (await bot.services.sync.run_once("test")).status == "ok"
    return uids


def shown(bot: Bot, uid: str) -> str:
    """The player's name as the boards hold it (the sync may have tidied its spacing)."""
    row = bot.services.live.row(Period.ALL_TIME, uid)
    assert row is not None
    return row.name


def suggestions(reply: str | None) -> list[str]:
    assert reply is not None and "Did you mean: " in reply, reply
    return reply.split("Did you mean: ", 1)[1].removesuffix("?").split(", ")


async def test_rank_and_link_forgive_spacing_width_and_case(bot: Bot) -> None:
    uids = await renamed(bot, {2: "John  Smith", 3: "Ｍａｘ Payne"})
    john, max_ = shown(bot, uids["John  Smith"]), shown(bot, uids["Ｍａｘ Payne"])
    for typed in ("John Smith", "john  smith", "JOHN\u00a0SMITH", "ＪＯＨＮ　ＳＭＩＴＨ", "John\tSmith "):
        rank = await bot.say(f"/rank {typed}")
        assert rank is not None and rank.startswith(f"👤 {john}\n"), (typed, rank)
        assert "All time: #3 of" in rank
    assert (await bot.say("/rank max  payne") or "").startswith(f"👤 {max_}\n")
    link = await bot.say("/link JOHN SMITH")
    assert link == f"Request #1 sent: an admin will confirm that you are {john}. I'll message you when they do."


async def test_every_suggestion_finds_its_player_when_typed_back(bot: Bot) -> None:
    snapshot = bot.sim.simulation.snapshot()  # type: ignore[attr-defined]
    someones_id = snapshot[9].uid
    uids = await renamed(bot, {
        2: "John  Smith", 3: "Ｍａｘ Payne", 4: "Twin  Star", 5: "twin star", 6: "ＴＷＩＮ ＳＴＡＲ", 7: someones_id,
    })

    for typo, uid in (("Jon Smith", uids["John  Smith"]), ("max pain", uids["Ｍａｘ Payne"])):
        [suggested] = suggestions(await bot.say(f"/rank {typo}"))
        assert suggested == shown(bot, uid)
        assert (await bot.say(f"/rank {suggested}") or "").startswith(f"👤 {suggested}\n")

    # Names with one key: typing any of them cannot tell them apart, so their ids are offered.
    twins = [uids["Twin  Star"], uids["twin star"], uids["ＴＷＩＮ ＳＴＡＲ"]]
    assert sorted(suggestions(await bot.say("/rank Twin Stra"))) == sorted(twins)
    for uid in twins:
        assert (await bot.say(f"/rank {uid}") or "").startswith(f"👤 {shown(bot, uid)}\n")
    assert "use their id instead" in (await bot.say("/rank twin star") or "")

    # A name that is someone else's id: typed back it would find that someone, so its own id is offered.
    typo = someones_id[:-1] + ("x" if someones_id[-1] != "x" else "y")
    [suggested] = suggestions(await bot.say(f"/rank {typo}"))
    assert suggested == uids[someones_id]
    assert (await bot.say(f"/rank {suggested}") or "").startswith(f"👤 {someones_id}\n")


async def test_commands_are_anchored(bot: Bot) -> None:
    """`/rank` never fires for `/ranking`, nor for a command addressed to another bot."""
    assert await bot.say("/ranking alice wonder") == UNKNOWN  # private chat: the fallback answers
    assert await bot.say("/ranking alice wonder", group=True) is None  # a group: silence
    assert (await bot.say(f"/rank@{BOT_USERNAME} alice wonder") or "").startswith("👤 Alice Wonder")
    assert await bot.say("/rank@someotherbot alice wonder", group=True) is None
    assert (await bot.say("/RANK alice wonder") or "").startswith("👤 Alice Wonder")


async def test_admin_commands_are_refused_to_others(bot: Bot) -> None:
    for command in ("/status", "/sync", "/pending", "/approve 1", "/reject 1"):
        assert await bot.say(command, OTHER) == ADMIN_ONLY, command
    status = await bot.say("/status", ADMIN)
    assert status is not None and "database: ok" in status and "telegram: ok" in status
    synced = await bot.say("/sync", ADMIN)
    assert synced is not None and synced.startswith("✅ Synced: 80 players")


async def test_link_approve_alerts_unlink(bot: Bot) -> None:
    reply = await bot.say("/link alice wonder")
    assert reply == "Request #1 sent: an admin will confirm that you are Alice Wonder. I'll message you when they do."
    assert "is waiting for an admin" in (await bot.say("/link alice wonder") or "")
    [note] = await OutboxRow.select().where(OutboxRow.chat == str(ADMIN)).run()
    assert "/approve 1" in note["text"] and note["dedupe_key"] == f"link:1:{ADMIN}"

    assert "Link your Goated account first" in (await bot.say("/alerts on") or "")
    pending = await bot.say("/pending", ADMIN)
    assert pending is not None and "#1 · Ann (555) → Alice Wonder" in pending
    assert await bot.say("/approve 1", ADMIN) == "✅ #1 approved: Ann is Alice Wonder."
    dm = await OutboxRow.select().where(OutboxRow.chat == str(USER)).first().run()
    assert "You're linked to <b>Alice Wonder</b>" in dm["text"]
    assert (await bot.say("/approve 1", ADMIN)) == "request #1 is approved, not pending"

    assert (await bot.say("/alerts on") or "").startswith("🔔 Alerts are on")
    mine = await bot.say("/rank")
    assert mine is not None and mine.startswith("👤 Alice Wonder")
    assert "places: on — your place on the boards changes" in (await bot.say("/alerts") or "")

    # Someone else cannot claim a linked player.
    assert "already linked to another Telegram account" in (await bot.say("/link Alice Wonder", OTHER) or "")
    assert (await bot.say("/unlink")) == "Done: you are no longer linked to Alice Wonder, and alerts are off."
    assert (await bot.say("/unlink")) == "You have no linked account."


async def test_race_shows_time_left_pool_top_and_your_place(bot: Bot) -> None:
    assert await bot.say("/race") == "No race is running right now."
    now = bot.clock.now
    races = bot.services.races
    await races.create(
        title="Weekend Dash", kind=RaceKind.CUSTOM, starts_at=now + timedelta(seconds=5),
        ends_at=now + timedelta(hours=2), pool_cents=50_000, split=[50, 30, 20],
    )
    assert (await bot.say("/race") or "").startswith("🗓 Weekend Dash starts in 5s")
    bot.clock.advance(5)
    await races.lifecycle.step()
    await races.lifecycle.drain()
    alice = bot.deps.players.find("Alice Wonder")[0]  # type: ignore[union-attr]
    bot.sim.simulation.wager(alice, 300)  # type: ignore[attr-defined]
    bot.sim.simulation.wager(bot.top_uid, 100)  # type: ignore[attr-defined]
    assert (await bot.services.sync.run_once("test")).status == "ok"
    await bot.say("/link alice wonder")
    await bot.say("/approve 1", ADMIN)
    text = await bot.say("/race")
    assert text is not None and text.startswith("🏁 Weekend Dash — 1h 59m left")
    assert "Prize pool $500" in text
    assert "🥇 Alice Wonder — $300.00 · $250" in text and f"🥈 {HOSTILE} — $100.00 · $150" in text
    assert text.endswith("You: #1 — $300.00")


async def test_one_user_cannot_flood_the_bot(bot: Bot) -> None:
    bot.pace = 0.1
    answers = [await bot.say("/top") for _ in range(7)]
    assert all(a and a.startswith("🏆") for a in answers[:5])
    assert answers[5] == TOO_FAST and answers[6] is None
    assert (await bot.say("/top", OTHER) or "").startswith("🏆")  # others are not affected


async def test_a_failing_command_answers_a_sentence_not_a_traceback(bot: Bot) -> None:
    async def broken() -> None:
        raise RuntimeError("kaboom")

    bot.deps.status = broken  # type: ignore[assignment]
    assert await bot.say("/status", ADMIN) == BROKEN


async def test_a_real_dispatch_reaches_the_handler(bot: Bot) -> None:
    """The same path pyrogram takes for a live update: a raw UpdateNewMessage on the
    dispatcher's queue, parsed, filtered and handled by its workers."""
    await bot.client.dispatcher.start()
    try:
        user = raw.types.User(id=USER, access_hash=1, first_name="Ann")
        message = raw.types.Message(
            id=77, peer_id=raw.types.PeerUser(user_id=USER), from_id=raw.types.PeerUser(user_id=USER),
            date=int(bot.clock.now.timestamp()), message="/top all",
            entities=[raw.types.MessageEntityBotCommand(offset=0, length=4)],
        )
        update = wire(raw.types.UpdateNewMessage(message=message, pts=2, pts_count=1))
        bot.client.dispatcher.updates_queue.put_nowait((update, {USER: wire(user)}, {}))
        async with asyncio.timeout(5):
            while not bot.fake.sent:
                await asyncio.sleep(0.02)
        assert bot.fake.sent[0].peer == USER and bot.fake.sent[0].text.startswith("🏆 All time")
        assert isinstance(bot.fake.calls[-1], raw.functions.messages.SendMessage)
        assert bot.fake.calls[-1].reply_to.reply_to_msg_id == 77
    finally:
        await bot.client.dispatcher.stop(clear_handlers=False)


def test_period_words() -> None:
    from server.telegram.commands.context import parse_period

    assert parse_period("") is Period.TODAY and parse_period("Week") is Period.WEEKLY and parse_period("all") is Period.ALL_TIME
