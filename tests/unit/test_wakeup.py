"""Wake-or-timeout, written once."""

from __future__ import annotations

import asyncio

from server.wakeup import Wakeup


async def test_times_out_without_a_wake() -> None:
    assert await Wakeup().wait(0.01) is False


async def test_a_wake_while_busy_is_kept_for_the_next_wait_and_consumed() -> None:
    wakeup = Wakeup()
    wakeup.set("ignored", "arguments")  # usable as an event handler
    loop = asyncio.get_running_loop()
    started = loop.time()
    assert await wakeup.wait(5) is True and loop.time() - started < 1
    assert await wakeup.wait(0.01) is False  # consumed


async def test_a_wake_during_the_wait_returns_early() -> None:
    wakeup = Wakeup()
    asyncio.get_running_loop().call_later(0.01, wakeup.set)
    assert await wakeup.wait(5) is True
