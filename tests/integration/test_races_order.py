"""`GET /api/races`' order: upcoming first, then live, then past, each newest start first.

A month's race that is still live started before the sprints that ended since: by start alone
it would sort after them, and a client reading the first page would miss it."""

from __future__ import annotations

from datetime import timedelta

from server.races.model import RaceKind, RaceStatus
from tests.conftest import SIM_START, live_settings, running_sim
from tests.integration.race_support import Clock, aligned, manual_races


async def test_races_list_upcoming_then_live_then_past(database_url: str) -> None:
    async with running_sim(speed=0) as sim:
        clock = Clock(aligned(SIM_START))
        t0 = clock.now
        async with manual_races(live_settings(database_url, sim), clock) as services:
            races = services.races

            async def race(title: str, start: float, end: float) -> int:
                created = await races.create(
                    title=title, kind=RaceKind.CUSTOM, starts_at=t0 + timedelta(seconds=start),
                    ends_at=t0 + timedelta(seconds=end), pool_cents=1_000, split=[100],
                )
                return created.id

            month = await race("Month", 10, 86_400)  # starts first, still live at the end
            sprint_1 = await race("Sprint 1", 20, 30)
            sprint_2 = await race("Sprint 2", 40, 50)
            called_off = await race("Called off", 60, 70)
            later = await race("Later", 3_600, 7_200)
            latest = await race("Latest", 7_200, 10_800)
            await races.cancel(called_off)
            for moment in (10, 20, 30, 40, 50, 100):
                clock.set(t0 + timedelta(seconds=moment))
                await races.lifecycle.step()
                await races.lifecycle.drain()

            mine = {month, sprint_1, sprint_2, called_off, later, latest}
            page = await races.page(None, 100, 0)
            listed = [(r.id, r.status) for r in page.races if r.id in mine]
            assert listed == [
                (latest, RaceStatus.UPCOMING),
                (later, RaceStatus.UPCOMING),
                (month, RaceStatus.LIVE),
                (called_off, RaceStatus.CANCELLED),
                (sprint_2, RaceStatus.ENDED),
                (sprint_1, RaceStatus.ENDED),
            ]
            # Pages cut the same order: every upcoming race before any live one, any live before the past.
            groups = {RaceStatus.UPCOMING: 0, RaceStatus.LIVE: 1, RaceStatus.ENDED: 2, RaceStatus.CANCELLED: 2}
            whole = page.races
            assert [groups[r.status] for r in whole] == sorted(groups[r.status] for r in whole)
            paged = [r.id for offset in range(0, page.total, 2) for r in (await races.page(None, 2, offset)).races]
            assert paged == [r.id for r in whole]
            # A status filter keeps newest start first.
            ended = [r.id for r in (await races.page(RaceStatus.ENDED, 100, 0)).races if r.id in mine]
            assert ended == [sprint_2, sprint_1]
