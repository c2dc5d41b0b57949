"""The outbox and its sender against a real database, Telegram faked at the raw API call:
nothing lost, nothing sent twice except the one documented case (a crash between the send
and the mark), FloodWait waited out, two senders never sharing a row."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest
from pyrogram.errors import ChatWriteForbidden, FloodWait, UserIsBlocked

from server.db.engine import close_pool, open_engine, open_pool
from server.schema import migrate
from server.leaderboard.board import Period
from server.leaderboard.sync import SyncOutcome
from server.services import running_services
from server.telegram.formatting import MAX_LENGTH
from server.telegram.limits import Throttle
from server.telegram.outbox import CHANNEL, Outbox, Outgoing
from server.telegram.sender import HOLD, Sender
from server.telegram.tables import OutboxRow
from tests.conftest import live_settings, running_sim
from tests.integration.race_support import Clock
from tests.telegram_fake import TEST_TELEGRAM, FakeTelegram

T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[str]:
    """A migrated database, once SQLite and once PostgreSQL."""
    engine = await open_engine(database_url)
    await migrate(engine)
    await open_pool(engine)
    yield database_url
    await close_pool(engine)


class FakeTime:
    """Monotonic time for the rate limits that moves only when slept: tests never wait."""

    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds
        await asyncio.sleep(0)


def instant_throttle() -> Throttle:
    time = FakeTime()
    return Throttle(clock=time, sleep=time.sleep)


async def connected(fake: FakeTelegram):  # noqa: ANN201 - a pyrogram Client
    client = fake.client()
    await fake.connect(client)
    return client


async def sender(fake: FakeTelegram, holder: str, clock: Clock, **kwargs: object) -> Sender:
    return Sender(await connected(fake), Outbox(), "@goatedlive_test", instant_throttle(), holder, clock, **kwargs)  # type: ignore[arg-type]


async def rows() -> list[dict]:
    return await OutboxRow.select().order_by(OutboxRow.id).run()


async def test_a_crash_between_send_and_mark_sends_that_message_once_more(db: str) -> None:
    """At-least-once: the message Telegram accepted just before the process died goes out a
    second time after its claim runs out, and never a third time."""
    clock = Clock(T0)
    await Outbox().add([Outgoing("42", "alert", "you moved to #3")], T0)
    fake = FakeTelegram()
    first = await sender(fake, "process-a", clock)
    task = asyncio.create_task(first.drain())
    fake.after_send = lambda _: task.cancel()  # the process dies the moment Telegram has it
    with pytest.raises(asyncio.CancelledError):
        await task
    fake.after_send = None
    [row] = await rows()
    assert len(fake.sent) == 1
    assert row["sent_at"] is None and row["claimed_by"] == "process-a" and row["attempts"] == 1

    restarted = await sender(fake, "process-b", clock)
    assert await restarted.drain() == 0  # the dead process's claim still holds
    clock.advance(HOLD.total_seconds() + 1)
    assert await restarted.drain() == 1
    assert [s.text for s in fake.sent] == ["you moved to #3", "you moved to #3"]
    [row] = await rows()
    assert row["sent_at"] == clock.now and row["attempts"] == 2 and row["telegram_message_id"]
    clock.advance(HOLD.total_seconds() + 1)
    assert await restarted.drain() == 0
    assert len(fake.sent) == 2


async def test_two_senders_never_send_the_same_row(db: str) -> None:
    clock = Clock(T0)
    messages = [Outgoing(chat, "alert", f"{chat}:{i}") for i in range(12) for chat in ("101", "202", "303")]
    await Outbox().add(messages, T0)
    fake = FakeTelegram()
    senders = [await sender(fake, f"p{i}", clock) for i in range(4)]
    for _ in range(50):
        await asyncio.gather(*(s.drain() for s in senders))
        if len(fake.sent) >= len(messages):
            break
    texts = [s.text for s in fake.sent]
    assert sorted(texts) == sorted(m.text for m in messages) and len(set(texts)) == len(texts)
    for chat in (101, 202, 303):  # each chat's messages in the order they were written
        assert [s.text for s in fake.sent if s.peer == chat] == [f"{chat}:{i}" for i in range(12)]
    assert all(r["sent_at"] is not None and r["attempts"] == 1 for r in await rows())


async def test_floodwait_puts_the_row_back_until_its_value_then_sends_it_once(db: str) -> None:
    clock = Clock(T0)
    await Outbox().add([Outgoing(CHANNEL, "digest", "📊 board")], T0)
    fake = FakeTelegram()
    fake.errors.append(FloodWait(value=7))
    first, other = await sender(fake, "first", clock), await sender(fake, "other", clock)
    assert await first.drain() == 0  # refused: nothing went out, and the sender did not sleep
    [row] = await rows()
    assert row["next_attempt_at"] == T0 + timedelta(seconds=7) and row["claimed_by"] is None and row["attempts"] == 0
    assert first.last_error and "FloodWait" in first.last_error
    clock.advance(6)
    assert await other.drain() == 0  # no sender takes it before Telegram's time
    clock.advance(1)
    assert await other.drain() == 1
    assert [s.peer for s in fake.sent] == ["channel"]
    sends = [c for c in fake.calls if type(c).__name__ == "SendMessage"]
    assert len(sends) == 2  # refused once, then accepted
    [row] = await rows()
    assert row["sent_at"] is not None and row["attempts"] == 1


async def test_network_errors_retry_later_and_keep_each_chats_order(db: str) -> None:
    clock = Clock(T0)
    outbox = Outbox()
    await outbox.add([Outgoing("7", "alert", "first"), Outgoing("7", "alert", "second"), Outgoing("8", "alert", "other chat")], T0)
    fake = FakeTelegram()
    fake.errors.append(OSError("connection reset by peer"))
    s = await sender(fake, "p", clock, jitter=lambda: 1.0)
    assert await s.drain() == 1
    assert [m.text for m in fake.sent] == ["other chat"]  # chat 7 waits behind its failed first message
    first, second, _ = await rows()
    assert first["sent_at"] is None and "connection reset" in first["last_error"]
    assert first["next_attempt_at"] > T0 and first["claimed_by"] is None
    assert second["sent_at"] is None
    clock.set(first["next_attempt_at"])
    assert await s.drain() == 2
    assert [m.text for m in fake.sent] == ["other chat", "first", "second"]


async def test_a_blocked_user_is_given_up_on_but_the_channel_never_is(db: str) -> None:
    clock = Clock(T0)
    await Outbox().add([Outgoing("9", "alert", "dm"), Outgoing(CHANNEL, "digest", "post")], T0)
    fake = FakeTelegram()
    fake.errors.extend([UserIsBlocked(), ChatWriteForbidden()])
    blocked: list[int] = []

    async def on_blocked(user: int) -> None:
        blocked.append(user)

    s = await sender(fake, "p", clock, on_blocked=on_blocked, jitter=lambda: 1.0)
    await s.drain()
    dm, post = await rows()
    assert dm["failed_at"] is not None and "UserIsBlocked" in dm["last_error"] and blocked == [9]
    assert post["failed_at"] is None and post["sent_at"] is None and "CHAT_WRITE_FORBIDDEN" in post["last_error"]
    clock.set(post["next_attempt_at"])
    assert await s.drain() == 1  # the bot was made admin meanwhile
    assert [m.text for m in fake.sent] == ["post"]


async def test_dedupe_keys_make_writing_idempotent_and_long_texts_split(db: str) -> None:
    outbox = Outbox()
    assert await outbox.add([Outgoing(CHANNEL, "race_started", "go", "race:1:started")], T0) == 1
    assert await outbox.add([Outgoing(CHANNEL, "race_started", "go", "race:1:started")], T0) == 0
    long_text = "\n".join(f"line {i} " + "x" * 90 for i in range(120))
    assert await outbox.add([Outgoing(CHANNEL, "digest", long_text, "digest:9:today")], T0) == 3
    pieces = (await rows())[1:]
    assert [p["dedupe_key"] for p in pieces] == ["digest:9:today#0", "digest:9:today#1", "digest:9:today#2"]
    assert all(len(p["text"]) <= MAX_LENGTH for p in pieces)
    assert "\n".join(p["text"] for p in pieces) == long_text


async def test_outbox_rows_exist_only_when_the_sync_committed(pg_url: str) -> None:
    """Digests are written inside the sync's transaction: a sync whose transaction fails
    (its writes held in memory) has written none; the held sync's rows arrive with it."""

    class Breaks:
        """A step whose write fails the way a lost connection does (the edge: the database)."""

        async def write(self, outcome: SyncOutcome) -> list[object]:
            raise asyncpg.exceptions.SerializationError("injected")

    async with running_sim(players=40) as sim:
        settings = live_settings(pg_url, sim, **TEST_TELEGRAM, telegram_channel="@goatedlive_test")  # type: ignore[arg-type]
        uids = [e.uid for e in sim.simulation.snapshot()][:6]
        for i, uid in enumerate(uids):
            sim.simulation.wager(uid, 1000.0 * (i + 1))
        async with running_services(settings, schedule=False, bot=False) as services:
            assert (await services.sync.run_once("test")).status == "ok"
            top = services.live.board(Period.ALL_TIME).rows
            sim.simulation.wager(top[3].uid, top[0].amount + 50)
            services.sync.steps.append(Breaks())
            result = await services.sync.run_once("test")
            assert result.status == "ok" and not result.stored
            assert await OutboxRow.count().run() == 0
            services.sync.steps.pop()
            sim.simulation.wager(top[5].uid, top[0].amount + 5000)
            result = await services.sync.run_once("test")
            assert result.stored
            keys = [r["dedupe_key"] for r in await rows()]
            assert f"digest:{result.seq}:all_time" in keys  # the held sync's digest was not written
            assert all(k.startswith(f"digest:{result.seq}:") for k in keys)


async def test_sent_rows_are_forgotten_after_a_month_waiting_ones_never(db: str) -> None:
    outbox = Outbox()
    old = T0 - timedelta(days=40)
    await outbox.add([Outgoing("1", "alert", "old"), Outgoing("2", "alert", "old, never sent")], old)
    clock = Clock(old)
    s = await sender(FakeTelegram(), "p", clock)
    await s.drain()  # both sent 40 days ago; then chat 2's stands for one still waiting since then
    await OutboxRow.update({OutboxRow.sent_at: None}).where(OutboxRow.chat == "2").run()
    await outbox.add([Outgoing("3", "alert", "recent")], T0)
    await OutboxRow.update({OutboxRow.sent_at: T0}).where(OutboxRow.chat == "3").run()
    assert await outbox.prune(T0) == 1
    assert sorted(r["chat"] for r in await rows()) == ["2", "3"]
