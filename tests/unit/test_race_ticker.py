"""The race ticker: one tick per channel per wall-clock second, none twice, none skipped
silently, run on a real asyncio loop whose clock jumps instead of waiting."""

from __future__ import annotations

import asyncio
import json
import logging
import math
import selectors
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

import pytest

from server.races.lifecycle import run_ticker
from server.races.live import CURRENT, LiveRaces
from server.races.model import RaceStatus
from server.realtime.hub import Connection, Hub
from tests.unit.test_race_live import T0, race

Sleep = Callable[[float], Awaitable[None]]


class _JumpSelector(selectors.DefaultSelector):
    """Polls the real selector; when nothing is ready, moves the loop's clock to the next
    timer instead of blocking until it."""

    def __init__(self, loop: VirtualTimeLoop) -> None:
        super().__init__()
        self._loop = loop

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        ready = super().select(None if timeout is None else 0)
        if not ready and timeout:
            self._loop.now += timeout
        return ready


class VirtualTimeLoop(asyncio.SelectorEventLoop):
    """A real asyncio loop (its own timers, their order and its wake-up rules) on a virtual
    monotonic clock: a minute of ticks takes milliseconds."""

    def __init__(self) -> None:
        self.now = 5_000.0
        super().__init__(_JumpSelector(self))

    def time(self) -> float:
        return self.now


class Wall:
    """The wall clock, read off the loop's clock: starting `start`, running at `rate` (a wall
    clock being slewed runs a little slow or fast), stepped by `shift` seconds."""

    def __init__(self, loop: VirtualTimeLoop, start: datetime, rate: float = 1.0) -> None:
        self._loop, self._start, self._rate, self._mono0 = loop, start, rate, loop.time()
        self.shift = 0.0

    def __call__(self) -> datetime:
        return self._start + timedelta(seconds=(self._loop.time() - self._mono0) * self._rate + self.shift)


def run(ticks: int, sleep: Sleep = asyncio.sleep, rate: float = 1.0, on_sleep: Callable[[int, Wall], None] | None = None) -> list[dict]:
    """Run the real ticker until race:current has had `ticks` ticks; every tick sent on
    race:7 and race:current, in order."""
    loop = VirtualTimeLoop()
    wall = Wall(loop, T0 + timedelta(seconds=0.37), rate)
    got: list[dict] = []
    calls = 0

    async def sleep_and_count(delay: float) -> None:
        nonlocal calls
        calls += 1
        if on_sleep is not None:
            on_sleep(calls, wall)
        await sleep(delay)

    async def main() -> None:
        enough = asyncio.Event()

        async def record(text: str) -> None:
            got.append(json.loads(text))
            if sum(m["channel"] == CURRENT for m in got) >= ticks:
                enough.set()

        async def close(*_: object) -> None:
            return None

        hub = Hub()
        live = LiveRaces(hub, wall)
        live.load([race(3, RaceStatus.LIVE, starts_at=T0 - timedelta(minutes=1), ends_at=T0 + timedelta(hours=1))], {})
        conn = Connection(record, close, max_backlog=10_000)
        hub.attach(conn)
        hub.join(conn, "race:7")
        hub.join(conn, CURRENT)
        ticker = asyncio.create_task(run_ticker(live, wall, sleep_and_count))
        try:
            async with asyncio.timeout(2 * ticks + 10):  # virtual seconds: a ticker that stops ticking fails, not hangs
                await enough.wait()
        finally:
            ticker.cancel()

    try:
        loop.run_until_complete(main())
    finally:
        loop.close()
    assert all(m["type"] == "tick" for m in got)
    return got


def per_channel(ticks: list[dict]) -> dict[str, tuple[list[int], list[int]]]:
    """Each channel's ticks as (wall seconds ticked, seconds_left)."""
    out: dict[str, tuple[list[int], list[int]]] = {}
    for m in ticks:
        seconds, lefts = out.setdefault(m["channel"], ([], []))
        seconds.append(math.floor(datetime.fromisoformat(m["server_now"]).timestamp()))
        lefts.append(m["seconds_left"])
    return out


def assert_every_second_once(ticks: list[dict]) -> None:
    channels = per_channel(ticks)
    assert set(channels) == {"race:7", CURRENT}
    for seconds, lefts in channels.values():
        assert seconds == list(range(seconds[0], seconds[0] + len(seconds)))  # none twice, none skipped
        assert lefts == list(range(lefts[0], lefts[0] - len(lefts), -1))


def test_sixty_five_ticks_one_per_wall_second() -> None:
    ticks = run(65)
    assert_every_second_once(ticks)
    seconds, lefts = per_channel(ticks)[CURRENT]
    assert len(seconds) == 65 and seconds[0] == math.floor(T0.timestamp()) + 1
    assert lefts[0] == 3600 - 1
    # Just after each second begins: a tick read as "the second before" would count wrong.
    offsets = [datetime.fromisoformat(m["server_now"]).microsecond for m in ticks]
    assert all(0 < us < 20_000 for us in offsets), offsets


@pytest.mark.parametrize(
    ("sleep", "rate"),
    [
        (lambda d: asyncio.sleep(max(d - 0.0005, 0.0)), 1.0),  # the loop wakes 0.5 ms early
        (asyncio.sleep, 1 - 500e-6),  # the wall clock slewed 500 ppm slow: the same, every second
        (lambda d: asyncio.sleep(d / 2), 1.0),  # wakes far too early: sleeps again, never ticks early
    ],
    ids=["sleep_0.5ms_early", "wall_clock_slewed_slow", "sleep_halfway"],
)
def test_an_early_wake_never_ticks_a_second_twice(sleep: Sleep, rate: float) -> None:
    assert_every_second_once(run(65, sleep, rate))


def test_a_stall_over_a_second_is_logged_once_and_ticks_the_current_second(caplog: pytest.LogCaptureFixture) -> None:
    stalled = False

    async def sleep(delay: float) -> None:
        nonlocal stalled
        if not stalled and delay > 0.5:
            stalled = True
            delay += 2.5  # the loop was blocked: this wake-up comes 2.5 s late
        await asyncio.sleep(delay)

    with caplog.at_level(logging.WARNING, logger="server.races.lifecycle"):
        ticks = run(10, sleep)
    skips = [r.getMessage() for r in caplog.records if "skipped" in r.getMessage()]
    assert skips == ["race ticker: 2.5 s late, skipped the ticks of 2 second(s)"]
    seconds, lefts = per_channel(ticks)[CURRENT]
    start = math.floor(T0.timestamp())
    assert seconds[:2] == [start + 3, start + 4]  # seconds 1 and 2 skipped, 3 ticked when it woke (at 3.505)
    assert seconds == list(range(seconds[0], seconds[0] + 10)) and lefts == list(range(3597, 3587, -1))


def test_a_wall_clock_stepped_back_waits_for_a_second_not_yet_ticked() -> None:
    def step_back(calls: int, wall: Wall) -> None:
        if calls == 20:
            wall.shift -= 4.5

    assert_every_second_once(run(65, on_sleep=step_back))
