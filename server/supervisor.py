"""The keeper of every long-running task: starts it, logs its failure with the traceback,
restarts it with jittered backoff, reports it in /health and /metrics, and stops them all."""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from server.backoff import full_jitter

__all__ = ["Supervisor", "TaskState", "cancel_and_wait"]

log = logging.getLogger(__name__)

Status = Literal["running", "restarting", "finished", "stopped"]

RESTART_BASE = 0.5  # seconds: the first restart waits up to this long
RESTART_CAP = 30.0  # and no restart waits longer
STEADY_AFTER = 60.0  # a child that ran this long without failing starts its backoff over


@dataclass(slots=True)
class TaskState:
    """What /health and /metrics say about one supervised task."""

    name: str
    status: Status = "running"
    restarts: int = 0
    last_error: str | None = None
    last_error_at: datetime | None = None


@dataclass(slots=True)
class _Child:
    state: TaskState
    run: Callable[[], Awaitable[None]]
    task: asyncio.Task[None] | None = None
    failures_in_a_row: int = 0


@dataclass(slots=True)
class Supervisor:
    """Owns long-running tasks (children). A child is a coroutine function meant to run until
    cancelled; if it raises, it is logged and started again after a jittered delay; if it
    returns, it is `finished`. `aclose` cancels and awaits every child, whatever they raise.
    """

    clock: Callable[[], datetime]
    monotonic: Callable[[], float] = time.monotonic
    rand: Callable[[], float] = random.random
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    _children: dict[str, _Child] = field(default_factory=dict)

    def start(self, name: str, run: Callable[[], Awaitable[None]]) -> None:
        """Keep `run` running under `name` (a running child of that name is an error)."""
        old = self._children.get(name)
        if old is not None and old.task is not None and not old.task.done():
            raise RuntimeError(f"task {name!r} is already running")
        child = _Child(TaskState(name), run)
        if old is not None:  # a restarted leader job keeps its history
            child.state.restarts, child.state.last_error, child.state.last_error_at = (
                old.state.restarts, old.state.last_error, old.state.last_error_at,
            )
        child.task = asyncio.create_task(self._keep(child), name=name)
        self._children[name] = child

    async def stop(self, name: str) -> None:
        """Cancel one child and wait for it; its state stays (as `stopped`) for /health."""
        child = self._children.get(name)
        if child is not None:
            await _cancel(child)
            child.state.status = "stopped"

    async def aclose(self) -> None:
        """Cancel every child and wait for all of them, in reverse start order."""
        for child in reversed(list(self._children.values())):
            await _cancel(child)
            child.state.status = "stopped"

    def running(self, name: str) -> bool:
        child = self._children.get(name)
        return child is not None and child.task is not None and not child.task.done()

    def states(self) -> list[TaskState]:
        return [child.state for child in self._children.values()]

    async def _keep(self, child: _Child) -> None:
        state = child.state
        while True:
            state.status = "running"
            started = self.monotonic()
            try:
                await child.run()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - the keeper's job: log it, restart it
                if (me := asyncio.current_task()) is not None and me.cancelling():
                    raise  # being stopped: what the child raised on its way out is logged by the stopper
                if self.monotonic() - started >= STEADY_AFTER:
                    child.failures_in_a_row = 0
                delay = full_jitter(child.failures_in_a_row, RESTART_BASE, RESTART_CAP, self.rand)
                child.failures_in_a_row += 1
                state.restarts += 1
                state.last_error, state.last_error_at = f"{type(exc).__name__}: {exc}", self.clock()
                state.status = "restarting"
                log.error("task %s failed; restarting it in %.1f s", state.name, delay, exc_info=exc)
                await self.sleep(delay)
                continue
            state.status = "finished"
            return


async def _cancel(child: _Child) -> None:
    if child.task is not None:
        await cancel_and_wait(child.task)


async def cancel_and_wait(task: asyncio.Task[object]) -> None:
    """Cancel `task` and wait for it to end; what it raises on its way out is logged, never
    passed on, so one task cannot abort a shutdown (our own cancellation still is)."""
    if task.done():
        return
    task.cancel()
    try:
        await task
    except asyncio.CancelledError:
        if (current := asyncio.current_task()) is not None and current.cancelling():
            raise  # we are being cancelled ourselves: pass it on
    except Exception:  # noqa: BLE001 - shutdown goes on whatever a task raised on its way out
        log.exception("task %s raised while stopping", task.get_name())
