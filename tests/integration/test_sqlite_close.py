"""A process on SQLite exits when its work is done, however its transactions ended.

Piccolo's SQLite transaction left its connection open when COMMIT (or BEGIN, or ROLLBACK)
raised or was cancelled; the open aiosqlite connection's non-daemon thread then kept the
process from exiting (`goated sync --once` printed its result and hung, twice in CI).
`server/db/engine.py` closes it on every path. Each case runs in a process of its own, since
the symptom is a process that does not end.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parents[2]

# A COMMIT that raises, every time: a deferred foreign key still broken at commit.
SCRIPT = """
import asyncio, sqlite3, sys
from piccolo.engine.sqlite import SQLiteEngine
from piccolo.querystring import QueryString
from server.db.engine import make_engine

async def main(path, which, how):
    engine = make_engine("sqlite:///" + path) if which == "ours" else SQLiteEngine(path=path, timeout=30)
    await engine.run_ddl("CREATE TABLE parent (id INTEGER PRIMARY KEY)")
    await engine.run_ddl("CREATE TABLE child (pid INTEGER REFERENCES parent(id) DEFERRABLE INITIALLY DEFERRED)")
    if how == "commit-fails":
        try:
            async with engine.transaction():
                await engine.run_querystring(QueryString("INSERT INTO child VALUES (42)"))
        except sqlite3.IntegrityError as exc:
            print("commit refused:", exc, flush=True)
    print("done", flush=True)

asyncio.run(main(*sys.argv[1:]))
"""


def run(tmp_path: Path, which: str, how: str, timeout: float = 20) -> subprocess.CompletedProcess[str] | None:
    """The script's outcome, or None when it did not exit within `timeout` seconds (killed)."""
    try:
        return subprocess.run(
            [sys.executable, "-c", SCRIPT, str(tmp_path / f"{which}.sqlite"), which, how],
            cwd=ROOT, capture_output=True, text=True, timeout=timeout,
        )
    except subprocess.TimeoutExpired:
        return None


def test_a_failed_commit_leaves_nothing_that_holds_the_process(tmp_path: Path) -> None:
    ours = run(tmp_path, "ours", "commit-fails")
    assert ours is not None, "the process did not exit"
    assert ours.returncode == 0, ours.stderr
    assert ours.stdout.splitlines() == ["commit refused: FOREIGN KEY constraint failed", "done"]


def test_the_check_sees_piccolos_own_transaction_hold_the_process(tmp_path: Path) -> None:
    """The case above can fail: with Piccolo's transaction the same script does not exit."""
    theirs = run(tmp_path, "piccolo", "commit-fails", timeout=8)
    assert theirs is None
