"""Token buckets for Telegram's limits and the per-user command budget (pure, injected time)."""

from __future__ import annotations

import asyncio

from server.telegram.limits import CommandLimits, SendLimits, Throttle, TokenBucket


def test_a_bucket_refills_at_its_rate_up_to_its_burst() -> None:
    bucket = TokenBucket.full(rate=2.0, burst=3.0, now=0.0)
    for _ in range(3):
        assert bucket.try_take(0.0)
    assert bucket.wait(0.0) == 0.5 and not bucket.try_take(0.0)
    assert bucket.wait(0.25) == 0.25
    assert bucket.try_take(0.5)
    assert bucket.wait(100.0) == 0 and bucket.is_full(100.0) and bucket.tokens == 3.0


def test_one_message_a_second_to_a_private_chat() -> None:
    limits = SendLimits()
    assert limits.wait("42", False, 0.0) == 0
    assert limits.wait("42", False, 0.0) == 1.0
    assert limits.wait("42", False, 0.5) == 0.5
    assert limits.wait("43", False, 0.5) == 0  # another chat has its own budget
    assert limits.wait("42", False, 1.0) == 0


def test_twenty_a_minute_to_a_channel() -> None:
    limits = SendLimits()
    now, sent = 0.0, 0
    while now < 60.0:
        delay = limits.wait("channel", True, now)
        if delay == 0:
            sent += 1
        else:
            now += delay
    assert 20 <= sent <= 23  # 20 a minute plus the small burst it starts with


def test_thirty_a_second_in_all() -> None:
    limits = SendLimits()
    allowed = sum(1 for chat in range(100) if limits.wait(str(chat), False, 0.0) == 0)
    assert allowed == 30
    assert limits.wait("1000", False, 0.0) > 0 and limits.wait("1000", False, 1 / 30) == 0


def test_a_user_gets_a_burst_then_one_warning_then_silence() -> None:
    limits = CommandLimits()
    assert [limits.check(1, 0.0) for _ in range(7)] == ["ok"] * 5 + ["warn", "drop"]
    assert limits.check(2, 0.0) == "ok"
    assert limits.check(1, 4.0) == "ok"  # one command every 4 s comes back
    assert limits.check(1, 4.0) == "warn"


def test_the_throttle_sleeps_exactly_what_the_buckets_say() -> None:
    now = [0.0]
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    async def run() -> None:
        throttle = Throttle(clock=lambda: now[0], sleep=sleep)
        for _ in range(3):
            await throttle.acquire("42", False)

    asyncio.run(run())
    assert slept == [1.0, 1.0]
