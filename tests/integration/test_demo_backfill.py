"""The demo's first start on real services: weeks of simulated history a player's chart reads,
and finished races paid out by the race code, from the first minute; never twice, never live."""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from server.app import create_app
from server.db.tables import AppState, HistoryPoint, SyncRun
from server.demo_history import TRIGGER, WORLD_START, demo_world, finished_races, running_sprints
from server.leaderboard.periods import day_window, month_window, rolled_over, week_window
from server.leaderboard.board import Period
from server.races.calendar import auto_series
from server.races.model import prizes_cents
from server.services import Services
from server.settings import Settings
from server.upstream.contract import decode
from server.upstream.demo import serve_on_loopback
from tests.conftest import live_settings, running_sim
from tests.demo_serve import running_demo
from tests.integration.race_support import Clock

PLAYERS = 400
DAYS = 21
WINDOWS = {Period.TODAY: day_window, Period.WEEKLY: week_window, Period.MONTHLY: month_window}
# Within float rounding: the same bets summed in another order.
CLOSE = 1e-9

# Instants where a day, a week, a month and a year begin (or are about to), and a leap day.
INSTANTS = {
    "midnight": datetime(2026, 11, 18, 0, 0, tzinfo=UTC),
    "monday-00:05": datetime(2026, 11, 23, 0, 5, tzinfo=UTC),
    "first-of-month": datetime(2026, 12, 1, 0, 0, tzinfo=UTC),
    "new-years-eve-23:59:20": datetime(2026, 12, 31, 23, 59, 20, tzinfo=UTC),
    "leap-day": datetime(2028, 2, 29, 12, 0, tzinfo=UTC),
}


def demo_settings(database_url: str, **overrides: object) -> Settings:
    """Nothing configured but the database: the demo (no GOATED_TOKEN)."""
    return Settings(database_url=database_url, sim_players=PLAYERS, **overrides)  # type: ignore[arg-type]


@asynccontextmanager
async def demo_app(settings: Settings, clock: Clock) -> AsyncIterator[tuple[httpx.AsyncClient, Services]]:
    """`goated serve`'s app on the app's clock `clock`, under uvicorn; syncs when the test asks."""
    app = create_app(settings, clock=clock, schedule=False)
    async with serve_on_loopback(app) as base, httpx.AsyncClient(base_url=base, timeout=30) as http:
        services: Services = app.state.services
        try:
            yield http, services
        finally:
            # The sprint under way took its baseline with a sync of its own: let it finish
            # rather than stop the server in the middle of its write.
            await services.races.lifecycle.drain()


async def demo_runs() -> list[dict]:
    return await SyncRun.select(SyncRun.id, SyncRun.seq, SyncRun.finished_at).where(SyncRun.trigger == TRIGGER).order_by(SyncRun.id).run()


def last_at_or_before(series: list[tuple[datetime, float]], moment: datetime) -> float | None:
    found = None
    for at, amount in series:
        if at > moment:
            break
        found = amount
    return found


@pytest.mark.parametrize("instant", list(INSTANTS.values()), ids=list(INSTANTS))
async def test_the_demos_first_start_has_weeks_of_history_and_paid_races(
    database_url: str, instant: datetime, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="server.demo_history")
    clock = Clock(instant)
    settings = demo_settings(database_url)
    first = instant - timedelta(days=DAYS)
    async with demo_app(settings, clock) as (http, services):
        assert any(
            r.name == "server.demo_history" and "demo: backfilled 21 days of simulated history" in r.getMessage()
            for r in caplog.records
        ), [r.getMessage() for r in caplog.records]

        runs = await demo_runs()
        assert runs[0]["finished_at"] == first and runs[-1]["finished_at"] == instant
        assert [r["seq"] for r in runs] == list(range(1, len(runs) + 1))
        assert len(runs) >= DAYS * 24  # hourly for a world this size
        # (the race lifecycle may have synced once since: the sprint under way takes its baseline)
        assert services.live.seq >= len(runs) and services.live.synced_at == instant

        rows = await HistoryPoint.select(
            HistoryPoint.uid, HistoryPoint.period, HistoryPoint.rank, HistoryPoint.amount, HistoryPoint.at
        ).where(HistoryPoint.sync_id.is_in([r["id"] for r in runs])).order_by(HistoryPoint.id).run()
        series: dict[tuple[str, str], list[tuple[datetime, float]]] = defaultdict(list)
        for row in rows:
            assert first <= row["at"] <= instant
            series[(row["uid"], row["period"])].append((row["at"], row["amount"]))

        # All-time totals only grow; each period's amount is what was wagered since its last
        # UTC boundary (periods.py), so it starts over at every boundary.
        checked = defaultdict(int)
        for (uid, period), points in series.items():
            if period == Period.ALL_TIME:
                amounts = [a for _, a in points]
                assert amounts == sorted(amounts), uid
                continue
            all_time = series.get((uid, Period.ALL_TIME.value), [])
            opened: dict[datetime, tuple[datetime, float]] = {}  # window start -> its first point
            for at, amount in points:
                start = WINDOWS[Period(period)](at)[0]
                if start >= first:  # since the boundary: from 0
                    since, base = start, 0.0
                else:  # a window begun before the history: since its first point in it
                    since, base = opened.setdefault(start, (at, amount))
                grown = last_at_or_before(all_time, at) - (last_at_or_before(all_time, since) or 0.0)
                assert amount == pytest.approx(base + grown, rel=CLOSE, abs=CLOSE), (uid, period, at)
                checked[period] += 1
        assert len(checked) == 3 and min(checked.values()) > 0, checked

        # A player's chart through the API: the whole history, and not one flat line.
        def chart_worthy(uid: str) -> tuple[bool, float]:
            """All its points fit the API's page (the most recent 500), then the most growth."""
            rows = sum(len(series.get((uid, p.value), ())) for p in Period)
            all_time = series[(uid, "all_time")]
            return rows <= 400, all_time[-1][1] - all_time[0][1]

        chosen = max(
            (uid for (uid, period), points in series.items() if period == Period.ALL_TIME and points[0][0] == first),
            key=chart_worthy,
        )
        player = (await http.get(f"/api/players/{chosen}")).json()
        history = [h for h in player["history"] if h["period"] == "all_time"]
        assert datetime.fromisoformat(history[0]["at"]) == first
        assert len({h["amount"] for h in history}) > 2
        assert [h["amount"] for h in history] == sorted(h["amount"] for h in history)

        # Finished races, settled by the race code, paid by their split.
        expected = finished_races(auto_series(settings), first, instant)
        body = (await http.get("/api/races", params={"status": "ended", "limit": 100})).json()
        ended = {(r["title"], datetime.fromisoformat(r["starts_at"]), datetime.fromisoformat(r["ends_at"])): r for r in body["races"]}
        assert len(expected) >= 5  # three weekly races and two sprints at least
        for spec in expected:
            race = ended[(spec.title, spec.starts_at, spec.ends_at)]
            assert race["finalized"] == "on_time"
            detail = (await http.get(f"/api/races/{race['id']}")).json()
            winners = detail["winners"]
            prizes = prizes_cents(spec.pool_cents, spec.split)
            assert winners, spec.title
            assert [w["position"] for w in winners] == list(range(1, len(winners) + 1))
            assert [w["prize_cents"] for w in winners] == list(prizes[: len(winners)])
            if len(winners) == len(spec.split):
                assert sum(w["prize_cents"] for w in winners) == spec.pool_cents  # the split adds up to 100%
            # The winners are who wagered most by the race's last snapshot, per the history.
            final = spec.ends_at - timedelta(seconds=1)
            amounts: dict[str, float] = {}
            for (uid, period), points in series.items():
                if spec.kind.value == "custom":
                    if period != "all_time":
                        continue
                    grown = (last_at_or_before(points, final) or 0.0) - (last_at_or_before(points, spec.starts_at) or 0.0)
                else:
                    if period != spec.kind.value:
                        continue
                    inside = [(at, a) for at, a in points if spec.starts_at <= at <= final]
                    grown = inside[-1][1] if inside else 0.0
                if grown > 1e-7:
                    amounts[uid] = grown
            ranked = sorted(amounts.items(), key=lambda item: (-item[1], item[0]))[: len(spec.split)]
            assert [w["uid"] for w in winners] == [uid for uid, _ in ranked], spec.title
            for w, (_, amount) in zip(winners, ranked):
                assert w["amount"] == pytest.approx(amount, rel=CLOSE)
        weekly = [s for s in expected if s.kind.value == "weekly"]
        assert len(weekly) == 3

        # The sprint under way at the first start counts from its own start, not from the
        # first live sync: its baseline is the snapshot at its start, its standings the
        # growth since then (at 00:00 and 12:00 none is under way: one starts with the demo).
        running = running_sprints(auto_series(settings), first, instant)
        assert len(running) == (1 if instant.minute % 10 or instant.second else 0), running
        live = (await http.get("/api/races", params={"status": "live", "limit": 100})).json()["races"]
        for spec in running:
            race = next(r for r in live if r["title"] == spec.title)
            assert (await services.races.store.get(race["id"])).baseline_at == spec.starts_at
            grown = {}
            for (uid, period), points in series.items():
                if period == "all_time":
                    amount = (last_at_or_before(points, instant) or 0.0) - (last_at_or_before(points, spec.starts_at) or 0.0)
                    if amount > 1e-7:
                        grown[uid] = amount
            standings = await services.races.store.standings(race["id"])
            assert {r.uid: r.amount for r in standings} == pytest.approx(grown, rel=CLOSE)
            assert grown, spec.title  # the demo's players wager within minutes

        # The world the demo serves goes on from the last snapshot: nobody's total went down,
        # a period only restarts at its boundary, and few players moved since.
        stored = dict(services.sync.players)
        upstream = httpx.AsyncClient(timeout=10)
        async with upstream:
            base = services.client.url.split("/affiliate/")[0]
            now = datetime.fromisoformat((await upstream.get(f"{base}/_sim/state")).json()["now"])
            served = {p.uid: p for p in decode((await upstream.get(services.client.url)).content).players}
        assert set(stored) <= set(served)
        same = 0
        for uid, before in stored.items():
            after = served[uid]
            assert after.all_time >= before.all_time, uid
            if after.all_time == before.all_time:
                same += 1
                for period in WINDOWS:
                    if not rolled_over(period, instant, now, slack=timedelta(0)):
                        assert after.amount(period) == before.amount(period), (uid, period)
        assert same >= len(stored) * 0.9

        # The first live sync diffs against the backfilled board: a normal sync (and a normal
        # Telegram digest, which the first sync ever would not get), not everyone entering.
        result = await services.sync.run_once("test")
        assert result.status == "ok" and result.seq is not None and result.seq > len(runs)
        assert result.changes < len(services.live.board(Period.ALL_TIME).rows)


async def test_a_second_start_does_not_write_the_history_again(sqlite_url: str) -> None:
    clock = Clock(INSTANTS["leap-day"])
    settings = demo_settings(sqlite_url)
    async with demo_app(settings, clock) as (_, services):
        runs = await demo_runs()
        assert len(runs) > DAYS * 24
        await services.sync.run_once("test")
    clock.advance(3600)
    async with demo_app(settings, clock) as (http, services):
        assert await demo_runs() == runs
        assert services.live.seq > len(runs)  # where the last start left off
        assert await AppState.count().where(AppState.key == TRIGGER).run() == 1
        assert (await http.get("/api/races", params={"status": "ended"})).json()["total"] >= 5


async def test_a_live_deployment_never_gets_simulated_history(database_url: str) -> None:
    async with running_sim() as sim:
        settings = live_settings(database_url, sim)
        assert not settings.demo and settings.demo_backfill_days == 21
        async with demo_app(settings, Clock(INSTANTS["midnight"])) as (http, services):
            assert await demo_runs() == []
            assert services.live.seq == 0
            assert (await http.get("/api/races", params={"status": "ended"})).json()["total"] == 0


async def test_demo_backfill_days_0_starts_empty(sqlite_url: str) -> None:
    settings = demo_settings(sqlite_url, demo_backfill_days=0)
    async with demo_app(settings, Clock(INSTANTS["midnight"])) as (http, services):
        assert await demo_runs() == []
        assert services.live.seq == 0
        assert (await http.get("/api/races", params={"status": "ended"})).json()["total"] == 0
        result = await services.sync.run_once("test")
        assert result.status == "ok" and result.seq == 1
    assert await AppState.count().where(AppState.key == TRIGGER).run() == 0


async def test_two_workers_starting_together_write_the_history_once(tmp_path: Path, redis_url: str) -> None:
    """`goated serve --workers 2` on a fresh demo: both workers start at once on one database."""
    import sqlite3
    import uuid

    env = {"REDIS_URL": redis_url, "REDIS_PREFIX": f"goated-test:{uuid.uuid4().hex[:8]}"}
    async with running_demo(tmp_path, "--workers", "2", env=env) as demo, httpx.AsyncClient(base_url=demo.base) as http:
        assert (await http.get("/api/races", params={"status": "ended"})).json()["total"] >= 5
        with sqlite3.connect(tmp_path / "demo.sqlite") as db:
            seqs = [seq for (seq,) in db.execute("SELECT seq FROM sync_runs WHERE trigger = ? ORDER BY id", (TRIGGER,))]
            markers = db.execute("SELECT count(*) FROM app_state WHERE key = ?", (TRIGGER,)).fetchone()[0]
    assert seqs == list(range(1, len(seqs) + 1)) and len(seqs) > DAYS * 24
    assert markers == 1


def test_demo_backfill_days_is_validated() -> None:
    from server.errors import ConfigError

    assert Settings.from_env({}).demo_backfill_days == 21
    assert Settings.from_env({"DEMO_BACKFILL_DAYS": "0"}).demo_backfill_days == 0
    for bad in ("-1", "91", "three"):
        with pytest.raises(ConfigError, match="DEMO_BACKFILL_DAYS"):
            Settings.from_env({"DEMO_BACKFILL_DAYS": bad})


def test_a_rewound_world_replayed_step_by_step_is_the_world_built_at_once() -> None:
    """What the history is written from is the world the demo then serves."""
    from server.upstream.simulator import Simulation

    start = INSTANTS["new-years-eve-23:59:20"]
    built = Simulation(start=start, players=300, seed=4, speed=60, history_from=start - timedelta(days=DAYS))
    rewound = Simulation(start=start, players=300, seed=4, speed=60, history_from=start - timedelta(days=DAYS), rewound=True)
    assert rewound.now == datetime(2026, 12, 1, tzinfo=UTC)  # the month of `history_from`, from its first day
    while rewound.now < start:
        rewound.advance(min(start, rewound.now + timedelta(hours=5)))
    later = start + timedelta(minutes=3)  # past midnight, at the world's own speed
    built.advance(later)
    rewound.advance(later)
    assert rewound.speed == built.speed == 60
    for one, other in zip(built.snapshot(), rewound.snapshot(), strict=True):
        assert one.uid == other.uid and one.name == other.name
        for field in ("today", "this_week", "this_month", "all_time"):
            assert getattr(other.wagered, field) == pytest.approx(getattr(one.wagered, field), rel=CLOSE, abs=CLOSE)


async def test_a_restart_carries_the_same_world_on(tmp_path: Path) -> None:
    """Stopped and started again ten minutes later, the demo serves the world it served, ten
    minutes on: no amount goes back (a sprint under way would find its players below their
    baselines), and the world is the one first served, carried on (not a new one from now)."""
    settings = demo_settings(f"sqlite:///{tmp_path / 'demo.sqlite'}")
    t0 = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)
    clock = Clock(t0)
    async with demo_app(settings, clock) as (_, services):
        await services.sync.run_once("test")
        before = {period: {row.uid: row.amount for row in services.live.board(period).rows} for period in (Period.MONTHLY, Period.ALL_TIME)}
    assert await AppState.select(AppState.value).where(AppState.key == WORLD_START).first().run() == {"value": t0.isoformat()}
    clock.set(t0 + timedelta(minutes=10))
    async with demo_app(settings, clock) as (_, services):
        await services.sync.run_once("test")
        after = {period: {row.uid: row.amount for row in services.live.board(period).rows} for period in (Period.MONTHLY, Period.ALL_TIME)}
    for period, amounts in before.items():
        assert amounts, period
        went_back = {uid: (amount, after[period].get(uid)) for uid, amount in amounts.items() if after[period].get(uid, 0.0) < amount - CLOSE}
        assert went_back == {}, (period, went_back)
    # The world served after the restart is the first one carried on to t0 + 10 min.
    carried = demo_world(settings, t0)
    carried.advance(t0 + timedelta(minutes=10))
    expected = {p.uid: p.all_time for p in decode(carried.payload()).players if p.all_time > 0}
    served = after[Period.ALL_TIME]
    assert len(served) >= len(expected) * 0.99
    assert sum(1 for uid, amount in expected.items() if served.get(uid, 0.0) + CLOSE < amount) == 0
