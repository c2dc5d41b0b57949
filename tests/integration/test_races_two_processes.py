"""Two server processes reach the end of the same races at the same moment: each race is
ended once and its result archived once, whichever process wins each step."""

from __future__ import annotations

import asyncio
import json
import sys
import time
from datetime import timedelta
from pathlib import Path

from server.db.engine import close_pool, make_engine, open_pool
from server.schema import migrate
from server.races.model import Finalized, RaceKind, RaceStatus
from server.races.standings import rank_standings
from server.races.store import RaceStore
from tests.conftest import SIM_START
from tests.integration.race_support import aligned

ROOT = Path(__file__).resolve().parents[2]
RACES = 8


async def test_two_processes_racing_to_finalize_do_it_once(database_url: str) -> None:
    engine = make_engine(database_url)
    await migrate(engine)
    await open_pool(engine)
    store = RaceStore(engine)
    end = aligned(SIM_START)  # any fixed instant: the processes get their clock from the command line
    start = end - timedelta(hours=1)
    ids = []
    try:
        for i in range(RACES):
            race = await store.create(
                {
                    "title": f"Race {i}", "kind": RaceKind.CUSTOM, "starts_at": start, "ends_at": end,
                    "pool_cents": 1_000 * (i + 1), "split": (70.0, 30.0), "min_wager": 0.0, "description": "",
                },
                start,
            )
            assert await store.start(race.id, start) is not None
            rows = rank_standings([("u1", "one", 50.0), ("u2", "two", 20.0)], {}, min_wager=0, prizes=race.prizes_cents)
            await store.write_standings(race.id, [], rows, start)
            ids.append(race.id)
    finally:
        await close_pool(engine)

    go_at = time.time() + 3.0  # both processes are loaded by then and step together
    procs = [
        await asyncio.create_subprocess_exec(
            sys.executable, "-m", "tests.integration.race_finalizer",
            database_url, (end + timedelta(milliseconds=200)).isoformat(), str(go_at), start.isoformat(),
            cwd=ROOT, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )
        for _ in range(2)
    ]
    # Both read at once: a process blocked writing to a full pipe must not hold the other up.
    outputs = await asyncio.wait_for(asyncio.gather(*(proc.communicate() for proc in procs)), 90)
    results = []
    for proc, (out, err) in zip(procs, outputs):
        assert proc.returncode == 0, err.decode()[-6000:]
        results.append(json.loads(out.decode().strip().splitlines()[-1]))

    ended = [r for result in results for r in result["ended"]]
    settled = [r for result in results for r in result["settled"]]
    assert sorted(ended) == ids and sorted(settled) == ids  # each exactly once, across both

    engine = make_engine(database_url)
    await migrate(engine)
    await open_pool(engine)
    try:
        for i, race_id in enumerate(ids):
            race = await RaceStore(engine).get(race_id)
            assert race.status is RaceStatus.ENDED and race.finalized is Finalized.ON_TIME
            assert race.version == 4  # created, started, ended, settled: no step ran twice
            assert [(w.uid, w.prize_cents) for w in race.winners] == [("u1", 700 * (i + 1)), ("u2", 300 * (i + 1))]
    finally:
        await close_pool(engine)
