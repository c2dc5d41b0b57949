"""Waiting for a race's follow-ups (final syncs, archiving) ends when they have, even when the
last one finished in the same turn of the event loop as the wait began."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from server.db.engine import make_engine
from server.races.service import RaceService
from server.races.store import RaceStore
from server.realtime.hub import Hub
from tests.conftest import SIM_START


class Spun(Exception):
    pass


@contextmanager
def cut_off_after(seconds: float) -> Iterator[None]:
    """A loop that never yields cannot be timed out by asyncio: a signal interrupts it."""

    def interrupt(signum: int, frame: object) -> None:
        raise Spun(f"still waiting after {seconds} s")

    previous = signal.signal(signal.SIGALRM, interrupt)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


async def test_drain_returns_when_the_follow_ups_just_finished(tmp_path: Path) -> None:
    async def publish(event: object) -> None:
        pass

    races = RaceService(RaceStore(make_engine(f"sqlite:///{tmp_path}/races.sqlite")), Hub(), publish, lambda: SIM_START, [], None)
    lifecycle = races.lifecycle
    finished: list[str] = []

    async def follow_up(name: str) -> None:
        finished.append(name)

    lifecycle._spawn(follow_up("archive"), "race-1-settle")
    lifecycle._spawn(follow_up("final sync"), "race-1-final-sync")
    await asyncio.sleep(0)  # both run to their end; their done-callbacks wait behind this task
    assert finished == ["archive", "final sync"]
    with cut_off_after(5.0):
        await lifecycle.drain()
    await asyncio.sleep(0)
    assert not lifecycle._tasks  # and they have left the set


async def test_drain_waits_for_a_follow_up_still_running(tmp_path: Path) -> None:
    async def publish(event: object) -> None:
        pass

    races = RaceService(RaceStore(make_engine(f"sqlite:///{tmp_path}/races.sqlite")), Hub(), publish, lambda: SIM_START, [], None)
    lifecycle = races.lifecycle
    release = asyncio.Event()
    finished: list[str] = []

    async def follow_up() -> None:
        await release.wait()
        finished.append("archive")

    lifecycle._spawn(follow_up(), "race-1-settle")
    waiting = asyncio.create_task(lifecycle.drain())
    await asyncio.sleep(0.05)
    assert not waiting.done() and finished == []
    release.set()
    await asyncio.wait_for(waiting, 5)
    assert finished == ["archive"]


async def test_close_cancels_follow_ups_still_running(tmp_path: Path) -> None:
    async def publish(event: object) -> None:
        pass

    races = RaceService(RaceStore(make_engine(f"sqlite:///{tmp_path}/races.sqlite")), Hub(), publish, lambda: SIM_START, [], None)
    lifecycle = races.lifecycle
    cancelled: list[str] = []

    async def follow_up(name: str) -> None:
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            cancelled.append(name)
            raise

    for name in ("final sync", "archive", "start sync"):
        lifecycle._spawn(follow_up(name), name)
    await asyncio.sleep(0)
    await asyncio.wait_for(lifecycle.close(), 5)  # each one's done-callback leaves the set as close awaits it
    assert sorted(cancelled) == ["archive", "final sync", "start sync"]
    assert not lifecycle._tasks
