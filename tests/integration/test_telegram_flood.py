"""A FloodWait holds back only the chat it was raised for, and race posts that are no longer
true by the time they could go are dropped (issue 13, item 7). Telegram is faked at the
MTProto session (tests/telegram_fake.py): pyrogram's own send_message raises the FloodWait."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from pyrogram import raw
from pyrogram.errors import FloodWait

from server.races.model import Race, RaceKind, RaceStatus
from server.telegram.announcer import race_posts
from server.telegram.limits import Throttle
from server.telegram.outbox import CHANNEL, Outbox, Outgoing
from server.telegram.sender import Sender
from tests.integration.race_support import Clock
from tests.integration.test_telegram_outbox import T0, connected, db, rows, sender  # noqa: F401 - db is a fixture
from tests.telegram_fake import FakeTelegram

DAY_LONG = 74_089  # seconds: the FloodWait seen in issue 13 (~20.6 h)


class FloodingTelegram(FakeTelegram):
    """Refuses the next message to each chat in `floods` with that FloodWait (once per chat)."""

    def __init__(self, floods: dict[int | str, int]) -> None:
        super().__init__()
        self.floods = dict(floods)

    def _send(self, query: Any) -> Any:
        peer = query.peer
        who: int | str = "channel" if isinstance(peer, raw.types.InputPeerChannel) else getattr(peer, "user_id", 0)
        if who in self.floods:
            self.calls.append(("refused", who))
            raise FloodWait(value=self.floods.pop(who))
        return super()._send(query)


def live_race(ends_in: timedelta) -> Race:
    now = T0
    return Race(
        id=12, version=3, title="December sprint", kind=RaceKind.CUSTOM, status=RaceStatus.LIVE,
        starts_at=now - timedelta(hours=2), ends_at=now + ends_in, pool_cents=50_000, split=(60.0, 40.0),
    )


async def drain(s: Sender) -> int:
    # The old sender slept the FloodWait (20.6 h) before anything else: fail fast instead.
    async with asyncio.timeout(10):
        return await s.drain()


async def test_a_floodwait_on_one_dm_delays_only_that_chat(db: str) -> None:
    clock = Clock(T0)
    [post] = race_posts(live_race(timedelta(minutes=9)), (), T0)
    assert post.kind == "race_10m"
    await Outbox().add(
        [Outgoing("42", "alert", "you moved to #3"), post, Outgoing("43", "alert", "you moved to #5"), Outgoing("42", "alert", "you moved to #2")],
        T0,
    )
    fake = FloodingTelegram({42: DAY_LONG})
    s = await sender(fake, "p", clock)
    assert await drain(s) == 2
    assert [m.peer for m in fake.sent] == ["channel", 43]  # the race post and the other user's DM went at once
    assert "10 minutes" in fake.sent[0].text
    first, _, _, second = await rows()
    assert first["sent_at"] is None and first["claimed_by"] is None and first["attempts"] == 0
    assert first["next_attempt_at"] == T0 + timedelta(seconds=DAY_LONG) and first["last_error"] == f"FloodWait {DAY_LONG} s"
    assert second["sent_at"] is None  # behind its chat's first row
    assert s.last_error and "FloodWait" in s.last_error

    clock.advance(DAY_LONG - 1)
    assert await drain(s) == 0
    clock.advance(1)
    assert await drain(s) == 2
    assert [m.text for m in fake.sent if m.peer == 42] == ["you moved to #3", "you moved to #2"]  # in order, once each


async def test_a_race_post_no_longer_true_when_the_channel_may_post_again_is_dropped(db: str) -> None:
    clock = Clock(T0)
    race = live_race(timedelta(minutes=9))
    [post] = race_posts(race, (), T0)
    assert post.expires_at == race.ends_at
    outbox = Outbox()
    await outbox.add([post, Outgoing("42", "alert", "you moved to #3")], T0)
    fake = FloodingTelegram({"channel": DAY_LONG})
    s = await sender(fake, "p", clock)
    assert await drain(s) == 1 and [m.peer for m in fake.sent] == [42]  # DMs go on while the channel waits
    clock.advance(600)
    await outbox.add([Outgoing(CHANNEL, "digest", "📊 the board")], clock.now)  # written later: behind the post

    clock.set(T0 + timedelta(seconds=DAY_LONG))  # the race ended ~20 h ago
    assert await drain(s) == 1
    assert [m.text for m in fake.sent] == ["you moved to #3", "📊 the board"]  # "10 minutes left" never went out
    stale = next(r for r in await rows() if r["kind"] == "race_10m")
    assert stale["sent_at"] is None and stale["expired_at"] == clock.now and "expired" in stale["last_error"]
    assert (await outbox.stats()).backlog == 0


async def test_a_chat_waiting_out_a_flood_does_not_hide_the_others(db: str) -> None:
    """600 rows wait for one chat: the rows of other chats behind them still go."""
    clock = Clock(T0)
    await Outbox().add([Outgoing("42", "alert", f"alert {i}") for i in range(600)] + [Outgoing(CHANNEL, "digest", "📊")], T0)
    fake = FloodingTelegram({42: DAY_LONG})
    s = await sender(fake, "p", clock)
    assert await drain(s) == 1
    assert [m.peer for m in fake.sent] == ["channel"]


class SlowLimits(Throttle):
    """A rate limit that makes a message wait until after its post's expiry."""

    def __init__(self, clock: Clock, wait: timedelta) -> None:
        super().__init__()
        self._dt_clock, self._wait = clock, wait

    async def acquire(self, chat: str, group: bool) -> None:
        self._dt_clock.now += self._wait


async def test_a_post_that_expires_while_waiting_for_the_rate_limit_is_dropped(db: str) -> None:
    clock = Clock(T0)
    [post] = race_posts(live_race(timedelta(minutes=1)), (), T0)
    await Outbox().add([post], T0)
    fake = FakeTelegram()
    s = Sender(await connected(fake), Outbox(), "@goatedlive_test", SlowLimits(clock, timedelta(minutes=2)), "p", clock)  # type: ignore[arg-type]
    assert await drain(s) == 0 and fake.sent == []
    [row] = await rows()
    assert row["expired_at"] is not None and row["claimed_by"] is None and row["sent_at"] is None
