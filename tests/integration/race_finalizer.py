"""A second server process, reduced to its race lifecycle: used by the test in which two
processes race to end and settle the same races.

    python -m tests.integration.race_finalizer DATABASE_URL CLOCK_ISO GO_AT_EPOCH

Loads the races from the database, waits until GO_AT_EPOCH (so both processes step at
the same moment), runs one lifecycle step with its clock at CLOCK_ISO, waits for the
settling, and prints what this process published as JSON.
"""

from __future__ import annotations

import asyncio
import faulthandler
import json
import sys
import time
from datetime import datetime

from server.db.engine import close_pool, make_engine, open_pool
from server.schema import bind_engine
from server.races.messages import RaceEnded, RaceStatusChanged
from server.races.model import RaceStatus
from server.races.service import RaceService
from server.races.store import RaceStore
from server.realtime.hub import Hub


async def main(url: str, clock_iso: str, go_at: float) -> dict[str, list[int]]:
    engine = make_engine(url)
    bind_engine(engine)
    await open_pool(engine)
    now = datetime.fromisoformat(clock_iso)
    won: dict[str, list[int]] = {"ended": [], "settled": []}
    services: list[RaceService] = []

    async def publish(event: object) -> None:
        if isinstance(event, RaceStatusChanged) and event.race.status is RaceStatus.ENDED:
            won["ended"].append(event.race.id)
        if isinstance(event, RaceEnded):
            won["settled"].append(event.race.id)
        services[0].handlers()[type(event)](event)

    watchdog = asyncio.create_task(_report_hang(50.0))
    try:
        races = RaceService(RaceStore(engine), Hub(), publish, lambda: now, series=[], sync=None)
        services.append(races)
        races.lifecycle.started_at = datetime.fromisoformat(sys.argv[4]) if len(sys.argv) > 4 else now
        await races.load()
        await asyncio.sleep(max(0.0, go_at - time.time()))
        await races.lifecycle.step()
        await races.lifecycle.drain()
    finally:
        watchdog.cancel()
        await close_pool(engine)
    return won


async def _report_hang(after: float) -> None:
    """If this process is still at work after `after` seconds, print every task's stack."""
    await asyncio.sleep(after)
    print(f"still running after {after:.0f} s; tasks:", file=sys.stderr)
    for task in asyncio.all_tasks():
        task.print_stack(file=sys.stderr)


if __name__ == "__main__":
    # A hang shows where it is: every thread's stack on stderr, then exit (the test prints it).
    faulthandler.dump_traceback_later(60, exit=True)
    print(json.dumps(asyncio.run(main(sys.argv[1], sys.argv[2], float(sys.argv[3])))))
