"""The supervisor keeps every long-running task: a failure is logged with its traceback and
restarted with backoff, states show what happened, and shutdown stops them all."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime

import pytest

from server.leader import Leadership, SoloElector
from server.supervisor import Supervisor, cancel_and_wait

NOW = datetime(2026, 11, 18, 15, 30, tzinfo=UTC)


def supervisor() -> Supervisor:
    return Supervisor(lambda: NOW, rand=lambda: 0.0)  # no jitter: restarts at once


async def until(predicate, timeout: float = 2.0) -> None:  # noqa: ANN001
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.001)


async def test_a_failing_task_is_logged_and_restarted(caplog: pytest.LogCaptureFixture) -> None:
    keeper = supervisor()
    runs: list[int] = []

    async def flaky() -> None:
        runs.append(len(runs))
        if len(runs) < 3:
            raise KeyError("boom")
        await asyncio.Event().wait()

    with caplog.at_level(logging.ERROR, logger="server.supervisor"):
        keeper.start("flaky", flaky)
        await until(lambda: len(runs) == 3)
    (state,) = keeper.states()
    assert (state.name, state.status, state.restarts) == ("flaky", "running", 2)
    assert (state.last_error, state.last_error_at) == ("KeyError: 'boom'", NOW)
    failures = [r for r in caplog.records if "task flaky failed" in r.getMessage()]
    assert len(failures) == 2 and all(r.exc_info is not None for r in failures)  # with the traceback
    await keeper.aclose()
    assert keeper.states()[0].status == "stopped" and not keeper.running("flaky")


async def test_restarts_back_off_with_full_jitter() -> None:
    delays: list[float] = []

    async def record(delay: float) -> None:
        delays.append(delay)
        await asyncio.sleep(0)

    async def always_fails() -> None:
        raise RuntimeError("down")

    keeper = Supervisor(lambda: NOW, rand=lambda: 1.0, sleep=record)  # the top of each jitter range
    keeper.start("down", always_fails)
    await until(lambda: len(delays) >= 8)
    await keeper.aclose()
    assert delays[:8] == [0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0]
    assert keeper.states()[0].restarts >= 8


async def test_a_task_that_returns_is_finished_not_restarted() -> None:
    keeper = supervisor()
    runs: list[int] = []

    async def once() -> None:
        runs.append(1)

    keeper.start("once", once)
    await until(lambda: keeper.states()[0].status == "finished")
    await asyncio.sleep(0.01)
    assert runs == [1]


async def test_shutdown_stops_every_task_even_when_one_raises_on_the_way_out() -> None:
    keeper = supervisor()
    stopped: list[str] = []

    def job(name: str, fail_on_cancel: bool):  # noqa: ANN202
        async def run() -> None:
            try:
                await asyncio.Event().wait()
            finally:
                stopped.append(name)
                if fail_on_cancel:
                    raise OSError("socket already closed")

        return run

    keeper.start("a", job("a", False))
    keeper.start("b", job("b", True))
    keeper.start("c", job("c", False))
    await asyncio.sleep(0)
    await keeper.aclose()  # does not raise
    assert stopped == ["c", "b", "a"]
    assert [s.status for s in keeper.states()] == ["stopped", "stopped", "stopped"]


async def test_cancel_and_wait_never_passes_on_a_tasks_error() -> None:
    async def bad() -> None:
        try:
            await asyncio.Event().wait()
        finally:
            raise ValueError("while stopping")

    task = asyncio.create_task(bad())
    await asyncio.sleep(0)
    await cancel_and_wait(task)
    assert task.done()


async def test_a_leader_whose_work_fails_to_start_gives_the_lead_back_and_is_restarted() -> None:
    """Leadership.run died when on_elected raised, yet kept is_leader=True."""
    keeper = supervisor()
    attempts: list[int] = []

    async def start_work() -> None:
        attempts.append(1)
        if len(attempts) == 1:
            raise ConnectionError("database unreachable while reloading")

    async def stop_work() -> None:
        return None

    leadership = Leadership(SoloElector(), start_work, stop_work, interval=0.01)
    keeper.start("leadership", leadership.run)
    await until(lambda: len(attempts) == 2 and leadership.is_leader)
    (state,) = keeper.states()
    assert state.restarts == 1 and state.last_error == "ConnectionError: database unreachable while reloading"
    await keeper.aclose()


def test_a_crashing_event_handler_does_not_stop_the_others(caplog: pytest.LogCaptureFixture) -> None:
    """A relay handler that raised used to break `publish` for everything after it."""
    from server.leaderboard.live import LiveBoards
    from server.realtime.hub import Hub
    from server.realtime.messages import SyncRequested
    from server.events import event_decoder
    from server.realtime.relay import Relay

    async def resync() -> None:
        return None

    relay = Relay(None, LiveBoards(), Hub(), resync, event_decoder.decode)  # type: ignore[arg-type]  # deliver() never touches the channels
    seen: list[str] = []

    def crash(event: SyncRequested) -> None:
        raise RuntimeError("bug in one feature")

    relay.on(SyncRequested, crash)
    relay.on(SyncRequested, lambda event: seen.append(event.trigger))
    with caplog.at_level(logging.ERROR, logger="server.realtime.relay"):
        relay.deliver(SyncRequested(trigger="admin"))
    assert seen == ["admin"] and relay.handler_errors == 1
    assert any(r.exc_info is not None for r in caplog.records)
