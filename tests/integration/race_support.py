"""Helpers for race tests: a clock the test moves, and services whose race lifecycle the
test steps by hand (the real code, driven at chosen moments instead of by sleeping)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta

import httpx

from server.supervisor import cancel_and_wait
from server.services import Services, running_services
from server.settings import Settings
from tests.conftest import Sim


class Clock:
    """The injected clock: `now` only moves when the test says so."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def set(self, now: datetime) -> None:
        self.now = now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def aligned(now: datetime | None = None) -> datetime:
    """A whole second, so countdowns in assertions are exact."""
    now = now or datetime.now(UTC)
    return now.replace(microsecond=0)


@asynccontextmanager
async def manual_races(settings: Settings, clock: Clock) -> AsyncIterator[Services]:
    """Services on `clock`, without the schedule, with the race lifecycle stopped: the test
    calls `services.races.lifecycle.step()` itself."""
    async with running_services(settings, clock=clock, schedule=False) as services:
        await services.supervisor.stop("race_lifecycle")
        yield services


async def wager(sim: Sim, uid: str, amount: float) -> None:
    async with httpx.AsyncClient() as http:
        r = await http.post(f"{sim.base_url}/_sim/wager", json={"uid": uid, "amount": amount})
        r.raise_for_status()


async def sim_control(sim: Sim, path: str, body: dict) -> dict:
    async with httpx.AsyncClient() as http:
        r = await http.post(f"{sim.base_url}{path}", json=body)
        r.raise_for_status()
        return r.json() if r.content else {}
