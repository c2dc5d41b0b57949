"""Race lifecycle against the real database and the simulated upstream over HTTP, with an
injected clock: ends between syncs, calendar boundaries, restarts across the end time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from server.races.calendar import month_window, week_window
from server.races.messages import RaceEnded, RaceStatusChanged
from server.races.model import Finalized, RaceKind, RaceStatus
from server.races.tables import RaceRow
from server.db.tables import SyncRun
from tests.conftest import SIM_START, live_settings, running_sim
from tests.integration.race_support import Clock, aligned, manual_races, sim_control, wager


def _quiet_players(sim, n: int) -> list[str]:  # noqa: ANN001 - tests.conftest.Sim
    """Players who wagered nothing this month or week (speed 0 keeps them quiet)."""
    quiet = [e.uid for e in sim.simulation.snapshot() if e.wagered.this_week == 0 and e.wagered.this_month == 0]
    return quiet[:n]


def _biggest_all_time(sim) -> str:  # noqa: ANN001
    return max(sim.simulation.snapshot(), key=lambda e: e.wagered.all_time).uid


@pytest.mark.parametrize("final_sync_answers", [True, False])
async def test_a_race_ending_between_syncs_ends_on_its_second(database_url: str, final_sync_answers: bool) -> None:
    async with running_sim(speed=0) as sim:
        clock = Clock(aligned(SIM_START))
        t0 = clock.now
        async with manual_races(live_settings(database_url, sim), clock) as services:
            races, lifecycle = services.races, services.races.lifecycle
            race = await races.create(
                title="Sprint", kind=RaceKind.CUSTOM, starts_at=t0 + timedelta(seconds=10),
                ends_at=t0 + timedelta(hours=1), pool_cents=10_000, split=[60, 40],
            )
            assert (await services.sync.run_once("test")).status == "ok"
            a, b = _quiet_players(sim, 2)
            whale = _biggest_all_time(sim)

            clock.advance(10)
            await lifecycle.step()
            await lifecycle.drain()  # the start sync: the baseline
            started = await races.store.get(race.id)
            assert started.status is RaceStatus.LIVE and started.baseline_at == t0 + timedelta(seconds=10)
            assert await races.store.standings(race.id) == []

            await wager(sim, a, 500)
            await wager(sim, b, 200)
            clock.advance(600)
            assert (await services.sync.run_once("test")).status == "ok"
            rows = await races.store.standings(race.id)
            # Growth since the start, not all-time totals: the biggest all-time player is absent.
            assert [(r.uid, r.amount, r.prize_cents) for r in rows] == [(a, 500, 6000), (b, 200, 4000)]
            assert whale not in {r.uid for r in rows}

            # b overtakes after the last sync before the end; no sync runs until after it.
            await wager(sim, b, 400)
            if not final_sync_answers:
                await sim_control(sim, "/_sim/faults", {"mode": "unauthorized"})
            clock.set(t0 + timedelta(hours=1) - timedelta(milliseconds=1))
            await lifecycle.step()
            assert (await races.store.get(race.id)).status is RaceStatus.LIVE
            clock.set(t0 + timedelta(hours=1))
            await lifecycle.step()
            ended = await races.store.get(race.id)
            assert ended.status is RaceStatus.ENDED and ended.updated_at == t0 + timedelta(hours=1)
            await lifecycle.drain()

            final = await races.store.get(race.id)
            assert final.finalized is Finalized.ON_TIME and final.finalized_at == t0 + timedelta(hours=1)
            if final_sync_answers:
                # The final sync at the end saw b's late wagers.
                assert [(w.uid, w.amount, w.prize_cents) for w in final.winners] == [(b, 600, 6000), (a, 500, 4000)]
                rows = await races.store.standings(race.id)
                assert [(r.uid, r.position, r.prev_position) for r in rows] == [(b, 1, 2), (a, 2, 1)]
            else:
                # The upstream refused at the end: the last sync before it decides.
                assert [(w.uid, w.amount) for w in final.winners] == [(a, 500), (b, 200)]
            triggers = [r["trigger"] for r in await SyncRun.select(SyncRun.trigger).order_by(SyncRun.id).run()]
            assert "race_start" in triggers and triggers[-1] == "race_end"

            # Later syncs leave the archived result alone.
            await sim_control(sim, "/_sim/faults", {"mode": "none"})
            await wager(sim, a, 10_000)
            clock.advance(60)
            assert (await services.sync.run_once("test")).status == "ok"
            assert (await races.store.get(race.id)).winners == final.winners
            assert (await races.detail(race.id)).winners == list(final.winners)


async def test_server_down_across_the_end_time_finalizes_on_startup(database_url: str) -> None:
    async with running_sim(speed=0) as sim:
        settings = live_settings(database_url, sim)
        clock = Clock(aligned(SIM_START))
        t0 = clock.now
        (a,) = _quiet_players(sim, 1)
        async with manual_races(settings, clock) as services:
            race = await services.races.create(
                title="Overnight", kind=RaceKind.CUSTOM, starts_at=t0, ends_at=t0 + timedelta(hours=1),
                pool_cents=5_000, split=[100],
            )
            await services.races.lifecycle.step()
            await services.races.lifecycle.drain()
            await wager(sim, a, 300)
            clock.advance(60)
            assert (await services.sync.run_once("test")).status == "ok"
        # Every server is down at the end; meanwhile a keeps wagering after it.
        await wager(sim, a, 10_000)
        clock.set(t0 + timedelta(hours=3))
        async with manual_races(settings, clock) as services:
            published: list[object] = []
            services.relay.on(RaceStatusChanged, published.append)
            services.relay.on(RaceEnded, published.append)
            assert services.races.live.view(race.id).race.status is RaceStatus.LIVE
            await services.races.lifecycle.step()
            await services.races.lifecycle.drain()
            final = await services.races.store.get(race.id)
            assert final.status is RaceStatus.ENDED and final.finalized is Finalized.ON_STARTUP
            assert [(w.uid, w.amount, w.prize_cents) for w in final.winners] == [(a, 300, 5_000)]
            # (handlers also see the channels backend's echo of this process's own events)
            assert sorted({(type(e).__name__, e.race.version) for e in published}) == [
                ("RaceEnded", final.version), ("RaceStatusChanged", final.version - 1),
            ]
            # No final sync after the fact: it would count wagers made after the end.
            triggers = {r["trigger"] for r in await SyncRun.select(SyncRun.trigger).run()}
            assert "race_end" not in triggers
            await services.races.lifecycle.step()  # nothing left to do, and nothing done twice
            assert (await services.races.store.get(race.id)).version == final.version


@pytest.mark.parametrize("series", ["monthly", "weekly"])
async def test_calendar_races_roll_over_at_the_boundary(pg_url: str, series: str) -> None:
    window = month_window if series == "monthly" else week_window
    boundary = window(SIM_START)[1]  # the first boundary the simulated world reaches
    pool = {f"race_{series}_pool_cents": 100_000, f"race_{series}_split": (50.0, 30.0, 20.0)}
    async with running_sim(speed=0) as sim:
        clock = Clock(boundary - timedelta(minutes=10))
        async with manual_races(live_settings(pg_url, sim, **pool), clock) as services:
            races, lifecycle = services.races, services.races.lifecycle
            await lifecycle.step()
            by_status = {r.status: r for r in races.live.races()}
            this, upcoming = by_status[RaceStatus.LIVE], by_status[RaceStatus.UPCOMING]
            assert (this.ends_at, upcoming.starts_at, upcoming.ends_at) == (boundary, boundary, window(boundary)[1])
            assert this.kind is RaceKind(series)

            assert (await services.sync.run_once("test")).status == "ok"
            field = "this_month" if series == "monthly" else "this_week"
            expected = sorted(
                ((getattr(e.wagered, field), e.uid) for e in sim.simulation.snapshot() if getattr(e.wagered, field) > 0),
                key=lambda t: (-t[0], t[1]),
            )
            rows = await races.store.standings(this.id)
            assert [(r.amount, r.uid) for r in rows] == expected and len(rows) >= 3

            # The upstream rolls its period over at the boundary, before our final sync.
            sim_now = datetime.fromisoformat((await _sim_state(sim))["now"])
            await sim_control(sim, "/_sim/advance", {"seconds": (boundary - sim_now).total_seconds() + 1})
            clock.set(boundary)
            await lifecycle.step()
            await lifecycle.drain()

            final = await races.store.get(this.id)
            assert final.status is RaceStatus.ENDED and final.finalized is Finalized.ON_TIME
            # The final sync saw the rollover (everyone near zero) and was not allowed to erase the race.
            assert [(w.uid, w.amount, w.prize_cents) for w in final.winners] == [
                (uid, amount, prize) for (amount, uid), prize in zip(expected, (50_000, 30_000, 20_000), strict=False)
            ]
            nxt = await races.store.get(upcoming.id)
            assert nxt.status is RaceStatus.LIVE
            keys = [r["auto_key"] for r in await RaceRow.select(RaceRow.auto_key).order_by(RaceRow.starts_at).run()]
            assert len(keys) == 3 and len(set(keys)) == 3  # and the one after next exists now


async def _sim_state(sim) -> dict:  # noqa: ANN001
    import httpx

    async with httpx.AsyncClient() as http:
        return (await http.get(f"{sim.base_url}/_sim/state")).json()
