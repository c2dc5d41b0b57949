"""Sync pipeline benchmark: a simulated upstream over loopback HTTP, synced by the real SyncService.

For each size: a cold sync (every row inserted) and `--repeats` steady-state syncs with the
simulation advanced `--step` seconds between them. Every case runs on a fresh database.
Prints markdown tables (median of the steady syncs). Not a test: see docs/performance.md.

    .venv/bin/python -m bench.sync_bench --sizes 2000,20000,100000 --repeats 5
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import logging
import os
import statistics
import sys
import tempfile
import time
import uuid
import warnings
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg

warnings.filterwarnings("ignore", message="There is no current event loop", category=DeprecationWarning)

from server.db.tables import HistoryPoint, PlayerRow  # noqa: E402
from server.leaderboard import store as store_module  # noqa: E402
from server.serve import tune_gc  # noqa: E402
from server.services import running_services  # noqa: E402
from server.settings import Settings  # noqa: E402
from server.upstream.demo import serve_on_loopback  # noqa: E402
from server.upstream.sim_app import create_sim_app  # noqa: E402
from server.upstream.simulator import Simulation  # noqa: E402

TOKEN = "bench-token"
CODE = "BENCH"
# Mid-day, mid-week, mid-month: a few steps of 15 minutes cross no period boundary.
START = datetime(2026, 11, 18, 12, 0, tzinfo=UTC)
STAGES = ("fetch", "decode", "rank", "diff", "persist", "publish", "total")
SYNC_TIMEOUT = 120.0  # one sync; a stuck database must not hang the run


@dataclass
class SyncSample:
    timings: dict[str, float]
    changes: int
    upserts: int  # players inserted, updated or marked gone
    history: int

    @property
    def other(self) -> float:
        """Time in no named stage: the sync_runs row, change detection, history, the event."""
        return self.timings["total"] - sum(self.timings.get(s, 0.0) for s in STAGES if s != "total")


@dataclass
class Case:
    db: str
    size: int
    batch: int
    cold: SyncSample | None = None
    steady: list[SyncSample] = field(default_factory=list)

    def median(self, stage: str) -> float:
        return statistics.median(s.timings.get(stage, float("nan")) for s in self.steady)

    def median_of(self, pick: Callable[[SyncSample], float]) -> float:
        return statistics.median(pick(s) for s in self.steady)


@asynccontextmanager
async def fresh_database(kind: str, admin_url: str) -> AsyncIterator[str]:
    """An empty database for one case, dropped afterwards."""
    if kind == "sqlite":
        with tempfile.TemporaryDirectory(prefix="goated-bench-") as tmp:
            yield f"sqlite:///{Path(tmp) / 'bench.sqlite'}"
        return
    name = f"goated_bench_{uuid.uuid4().hex[:10]}"
    await _admin(admin_url, f'CREATE DATABASE "{name}"')
    try:
        yield f"{admin_url.rsplit('/', 1)[0]}/{name}"
    finally:
        await _admin(admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def _admin(url: str, sql: str) -> None:
    conn = await asyncpg.connect(url, timeout=5)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def run_case(
    kind: str, size: int, batch: int, base: Simulation, args: argparse.Namespace
) -> Case:
    case = Case(kind, size, batch)
    simulation = copy.deepcopy(base)  # every case sees the same data
    now = [START]
    app = create_sim_app(simulation, token=TOKEN, clock=lambda: now[0], affiliate_code=CODE)
    store_module.BATCH = batch
    async with fresh_database(kind, args.pg_url) as db_url, serve_on_loopback(app) as upstream:
        settings = Settings(
            database_url=db_url,
            goated_api_url=upstream,
            goated_token=TOKEN,
            affiliate_code=CODE,
            upstream_timeout=60.0,
            log_level="WARNING",
        )
        async with running_services(settings, schedule=False) as services:
            history_before = 0
            for i in range(args.repeats + 1):
                if i:
                    # Advance here, not in the request handler, so `fetch` times the transfer only.
                    now[0] += timedelta(seconds=args.step)
                    simulation.advance(now[0])
                async with asyncio.timeout(SYNC_TIMEOUT):
                    result = await services.sync.run_once("bench")
                if result.status != "ok":
                    raise RuntimeError(f"{kind} {size}: sync {i} {result.status}: {result.error}")
                # Rows written, counted in the database (outside the timed sync): an upsert
                # or a "gone" mark sets last_seen to the sync's time.
                history_now = await HistoryPoint.count().run()
                touched = await PlayerRow.count().where(PlayerRow.last_seen == services.live.synced_at).run()
                sample = SyncSample(dict(result.timings), result.changes, touched, history_now - history_before)
                history_before = history_now
                if i == 0:
                    case.cold = sample
                else:
                    case.steady.append(sample)
    return case


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:,.0f}" if seconds >= 0.01 else f"{seconds * 1000:.1f}"


def stage_table(cases: list[Case]) -> str:
    head = "| db | players | sync | changed players | history rows | events | " + " | ".join(f"{s} ms" for s in STAGES) + " | other ms |"
    lines = [head, "|" + "---|" * (7 + len(STAGES))]
    for c in cases:
        assert c.cold is not None
        cold = c.cold
        lines.append(
            f"| {c.db} | {c.size:,} | cold | {cold.upserts:,} | {cold.history:,} | {cold.changes:,} | "
            + " | ".join(_ms(cold.timings.get(s, float('nan'))) for s in STAGES) + f" | {_ms(cold.other)} |"
        )
        lines.append(
            f"| {c.db} | {c.size:,} | steady (median of {len(c.steady)}) | "
            f"{c.median_of(lambda s: s.upserts):,.0f} | {c.median_of(lambda s: s.history):,.0f} | "
            f"{c.median_of(lambda s: s.changes):,.0f} | "
            + " | ".join(_ms(c.median(s)) for s in STAGES) + f" | {_ms(c.median_of(lambda s: s.other))} |"
        )
    return "\n".join(lines)


def batch_table(cases: list[Case], batches: list[int]) -> str:
    lines = [
        "| players | " + " | ".join(f"cold persist ms @ {b}" for b in batches) + " | "
        + " | ".join(f"steady persist ms @ {b}" for b in batches) + " |",
        "|" + "---|" * (1 + 2 * len(batches)),
    ]
    for size in sorted({c.size for c in cases}):
        by_batch = {c.batch: c for c in cases if c.size == size}
        cold = [_ms(by_batch[b].cold.timings["persist"]) if b in by_batch and by_batch[b].cold else "-" for b in batches]
        steady = [_ms(by_batch[b].median("persist")) if b in by_batch else "-" for b in batches]
        lines.append(f"| {size:,} | " + " | ".join(cold) + " | " + " | ".join(steady) + " |")
    return "\n".join(lines)


async def main_async(args: argparse.Namespace) -> int:
    sizes = [int(s) for s in args.sizes.split(",") if s]
    batches = [int(b) for b in args.batches.split(",") if b]
    default_batch = store_module.BATCH
    deadline = time.monotonic() + args.budget
    main_cases: list[Case] = []
    batch_cases: list[Case] = []
    print(f"# sync bench: sizes {sizes}, {args.repeats} steady syncs {args.step:.0f} s apart at speed {args.speed}; "
          f"load average {os.getloadavg()[0]:.1f}", file=sys.stderr)
    for size in sizes:
        started = time.perf_counter()
        base = Simulation(players=size, seed=args.seed, start=START, speed=args.speed)
        print(f"  {size:,} players simulated in {time.perf_counter() - started:.1f} s", file=sys.stderr)
        for batch in dict.fromkeys([default_batch, *batches]):
            if time.monotonic() > deadline:
                print(f"  time budget spent: skipping {size:,} @ {batch}", file=sys.stderr)
                continue
            case = await run_case("postgresql", size, batch, base, args)
            print(f"  postgresql {size:,} @ batch {batch}: cold {case.cold.timings['total']:.2f} s, steady total {case.median('total'):.3f} s", file=sys.stderr)
            if batch == default_batch:
                main_cases.append(case)
            if batch in batches:
                batch_cases.append(case)
        if args.sqlite and time.monotonic() < deadline:
            case = await run_case("sqlite", size, default_batch, base, args)
            print(f"  sqlite {size:,}: cold {case.cold.timings['total']:.2f} s, steady total {case.median('total'):.3f} s", file=sys.stderr)
            main_cases.append(case)
    main_cases.sort(key=lambda c: (c.size, c.db != "postgresql"))
    print(f"### Per stage (store.BATCH = {default_batch}; fetch includes serving the body over loopback; "
          f"GC {'default' if args.default_gc else 'tuned as in goated serve'}; load average {os.getloadavg()[0]:.1f} at the end)\n")
    print(stage_table(main_cases))
    if batch_cases:
        print("\n### Persist time by rows per INSERT (PostgreSQL)\n")
        print(batch_table(batch_cases, batches))
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="2000,20000,100000", help="comma-separated player counts")
    parser.add_argument("--repeats", type=int, default=5, help="steady-state syncs per case (median reported)")
    parser.add_argument("--batches", default="50,500,1000,2500", help="store.BATCH values to compare on PostgreSQL ('' to skip)")
    parser.add_argument("--no-sqlite", dest="sqlite", action="store_false", help="skip the SQLite comparison")
    parser.add_argument("--speed", type=float, default=20.0, help="simulation speed (20: a few hundred changed players per 15 min at 100k)")
    parser.add_argument("--step", type=float, default=900.0, help="simulated seconds between syncs (the production interval)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--pg-url", default="postgresql://postgres@127.0.0.1:5432/postgres", help="admin URL: a fresh database is created per case")
    parser.add_argument("--default-gc", action="store_true", help="keep Python's default GC thresholds (`goated serve` tunes them)")
    parser.add_argument("--budget", type=float, default=480.0, help="seconds after which remaining cases are skipped")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    if not args.default_gc:
        tune_gc()  # as `goated serve` does
    for name in ("server", "piccolo", "httpx"):
        logging.getLogger(name).setLevel(logging.WARNING)
    return asyncio.run(main_async(args))


if __name__ == "__main__":
    raise SystemExit(main())
