"""Personal alerts: `/alerts` through the real handlers (settings kept per Telegram user), and
syncs of the simulated upstream turning race news into one DM per user per sync, sent by the
bot through the outbox to Telegram faked at the MTProto session."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from server.leaderboard.board import Period
from server.races.model import RaceKind
from server.services import Services, running_services
from server.telegram.personal import Prefs
from server.telegram.tables import AccountRow, AlertMarkRow, OutboxRow
from tests.conftest import SIM_START, Sim, running_sim
from tests.integration.race_support import Clock, aligned
from tests.integration.test_telegram_commands import ADMIN, OTHER, USER, Bot, bot  # noqa: F401 - bot is a fixture
from tests.integration.test_telegram_mirror import telegram_settings, until
from tests.telegram_fake import FakeTelegram

NOT_LINKED = "Link your Goated account first: /link <your Goated name>. Alerts follow your own player."
NO_RACE = " No race is live right now: race alerts start with the next one."


async def test_alerts_shows_and_keeps_each_setting(bot: Bot) -> None:
    unlinked = await bot.say("/alerts")
    assert unlinked is not None and unlinked.startswith("🔔 Alerts follow your own player: link it first with /link <your Goated name>.")
    assert await bot.say("/alerts passed on") == NOT_LINKED
    assert await bot.say("/alerts near 100") == NOT_LINKED
    assert await bot.say("/alerts passed off") == "🔕 Off: no message when someone passes you in the race."

    await bot.say("/link alice wonder")
    await bot.say("/approve 1", ADMIN)
    assert await bot.say("/alerts passed on") == "🔔 On: I'll message you when someone passes you in the race." + NO_RACE
    assert await bot.say("/alerts near $1,000.50") == (
        "🔔 On: I'll message you when you come within $1,000.50 of the place above you in the race." + NO_RACE
    )
    assert await bot.deps.accounts.prefs(USER) == Prefs(places=False, passed=True, paid=False, near_cents=100_050)
    row = await AccountRow.select().where(AccountRow.telegram_id == USER).first().run()
    assert (row["alerts"], row["alert_passed"], row["alert_paid"], row["alert_near_cents"]) == (False, True, False, 100_050)
    settings = await bot.say("/alerts")
    assert settings is not None
    assert settings.split("\n")[:5] == [
        "🔔 Your alerts for Alice Wonder, by private message:",
        "places: off — your place on the boards changes",
        "passed: on — someone passes you in the race",
        "paid: off — you drop out of the race's paid places",
        "near: $1,000.50 — you come within that amount of the place above you in the race",
    ]
    assert "/alerts near <amount in $>" in settings

    assert await bot.say("/alerts near off") == "🔕 Off: no message when you come within a chosen amount of the place above you in the race."
    assert (await bot.deps.accounts.prefs(USER)).near_cents is None
    assert (await bot.say("/alerts on") or "").startswith("🔔 Alerts are on: I'll message you when your place on the boards changes")
    assert await bot.deps.accounts.prefs(USER) == Prefs(places=True, passed=True, paid=True, near_cents=None)
    assert await bot.say("/alerts places off") == "🔕 Off: no message when your place on the boards changes."
    assert (await bot.deps.accounts.prefs(USER)).places is False
    group = await bot.say("/alerts paid on", group=True)
    assert group is not None and group.endswith("Alerts come as private messages: open a chat with me and press Start, or I can't write to you.")
    assert await bot.say("/alerts off") == "Alerts are off."
    assert await bot.deps.accounts.prefs(USER) == Prefs()

    await bot.say("/alerts near 25")
    assert (await bot.say("/unlink") or "").endswith("and alerts are off.")
    assert await bot.deps.accounts.prefs(USER) == Prefs()  # near too: alerts follow a link


async def test_bad_input_gets_a_helpful_reply_and_changes_nothing(bot: Bot) -> None:
    await bot.say("/link alice wonder")
    await bot.say("/approve 1", ADMIN)
    await bot.say("/alerts near 75")
    replies = {
        "/alerts loud": "I don't know the alert 'loud'. Try places, passed, paid or near (or just /alerts to see yours).",
        "/alerts paid maybe": "Say on or off: /alerts paid on, or /alerts paid off.",
        "/alerts passed": "Say on or off: /alerts passed on, or /alerts passed off.",
        "/alerts near": "Say how close, in dollars: /alerts near 250 (or /alerts near off).",
        "/alerts near 1 2": "Say how close, in dollars: /alerts near 250 (or /alerts near off).",
        "/alerts near abc": "'abc' is not an amount in dollars: it must be an amount such as 1000 or 1000.50. Try /alerts near 250.",
        "/alerts near 0": "'0' is not an amount in dollars: it must be an amount above 0. Try /alerts near 250.",
        "/alerts near -5": "'-5' is not an amount in dollars: it must be an amount above 0. Try /alerts near 250.",
        "/alerts near 1.005": "'1.005' is not an amount in dollars: it must have at most two decimals. Try /alerts near 250.",
        "/alerts near nan": "'nan' is not an amount in dollars: it must be an amount above 0. Try /alerts near 250.",
        "/alerts near 1e12": "That is more than $100,000,000: give an amount like /alerts near 250.",
        "/alerts <b>x</b>": "I don't know the alert '<b>x</b>'. Try places, passed, paid or near (or just /alerts to see yours).",
    }
    for typed, expected in replies.items():
        assert await bot.say(typed) == expected, typed
    assert "<b>x</b>" not in bot.fake.sent[-1].bold()  # what they typed came back as text
    assert await bot.deps.accounts.prefs(USER) == Prefs(near_cents=75_00)
    assert await bot.deps.accounts.prefs(OTHER) == Prefs()


# ---- race news after syncs ------------------------------------------------------------


async def dms(to: int) -> list[str]:
    return [r["text"] for r in await OutboxRow.select(OutboxRow.text).where(OutboxRow.chat == str(to)).order_by(OutboxRow.id).run()]


async def sync(services: Services) -> None:
    assert (await services.sync.run_once("test")).status == "ok"


async def race_with_five(services: Services, sim: Sim, clock: Clock) -> list[str]:
    """A live custom race ($1,000 for the top 3: $500, $300, $200) whose standings are, after
    three syncs, #1..#5 at $500, $400, $300, $200, $100; the five players' uids, best first."""
    races = services.races
    assert races is not None
    await races.create(
        title="Friday Dash", kind=RaceKind.CUSTOM, starts_at=clock() + timedelta(seconds=5),
        ends_at=clock() + timedelta(hours=3), pool_cents=100_000, split=[50, 30, 20],
    )
    clock.advance(5)
    await races.lifecycle.step()
    await races.lifecycle.drain()
    await sync(services)  # the race's baseline
    five = [e.uid for e in sim.simulation.snapshot()[:5]]
    for i, uid in enumerate(five):
        sim.simulation.wager(uid, 100.0 * (5 - i))
    await sync(services)  # its first standings
    await sync(services)  # the same again: everyone's previous place known
    return five


async def test_passed_and_out_of_the_paid_places_is_one_dm_once_and_near_once(database_url: str) -> None:
    fake = FakeTelegram()
    clock = Clock(aligned(SIM_START))
    async with running_sim(players=30) as sim:
        settings = telegram_settings(database_url, sim, telegram_channel=None, telegram_periods=())
        async with running_services(settings, clock=clock, schedule=False, bot=True, telegram_client=fake.factory()) as services:
            await services.supervisor.stop("race_lifecycle")
            telegram = services.telegram
            first, second, me, fourth, fifth = await race_with_five(services, sim, clock)
            player = services.live.row(Period.ALL_TIME, me)
            await telegram.accounts.seen(USER, "Ann", None, clock())
            link = await telegram.links.request(USER, "Ann", me, player.name if player else me, clock())
            await telegram.links.approve(link.id, "test", clock())
            for kind in ("passed", "paid"):
                await telegram.accounts.set_alert(USER, kind, True, clock())
            await sync(services)  # nothing moved: no DM, and what it saw is kept (in a paid place)
            assert await dms(USER) == []
            [mark] = await AlertMarkRow.select().run()
            assert (mark["telegram_id"], mark["paid"], mark["near_of"]) == (USER, True, None)

            sim.simulation.wager(fourth, 250)  # $450: #2
            sim.simulation.wager(fifth, 260)  # $360: #4
            await sync(services)
            names = {uid: services.live.row(Period.ALL_TIME, uid).name for uid in (fourth, fifth, me)}  # type: ignore[union-attr]
            [dm] = await dms(USER)
            assert dm == "\n".join(
                [
                    f"🔔 <b>{names[me]}</b>",
                    f"⚔️ <b>Friday Dash</b>: passed by {names[fourth]}, {names[fifth]} — you're #5 now",
                    "💸 <b>Friday Dash</b>: you dropped out of the paid places — #5 now, the top 3 win prizes",
                ]
            )
            await until(lambda: [s for s in fake.sent if s.peer == USER])
            [sent] = [s for s in fake.sent if s.peer == USER]
            assert "passed by" in sent.text and "dropped out of the paid places" in sent.text

            await sync(services)  # the same standings again: nothing new
            assert len(await dms(USER)) == 1

            await telegram.accounts.set_alert(USER, "near", 50_00, clock())  # within $50 of #4 ($360; they have $300)
            await sync(services)
            assert len(await dms(USER)) == 1  # $60 behind: not within $50
            sim.simulation.wager(me, 20)  # $320: $40 behind
            await sync(services)
            assert (await dms(USER))[1] == f"🔔 <b>{names[me]}</b>\n🎯 <b>Friday Dash</b>: $40.00 behind #4 — you're #5"
            await sync(services)
            sim.simulation.wager(me, 5)  # still within reach of #4: not news
            await sync(services)
            assert len(await dms(USER)) == 2
            await until(lambda: len([s for s in fake.sent if s.peer == USER]) == 2)
            await asyncio.sleep(0.2)
            assert len([s for s in fake.sent if s.peer == USER]) == 2

